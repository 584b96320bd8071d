//! An account's instance metadata defaults per Region ([`DefaultsStore`]).

use crate::Result;
use async_trait::async_trait;
use model::{AccountDefaults, Ec2Error, Scope};

/// A change to an account's defaults.
pub type DefaultsMutation =
    Box<dyn FnOnce(&mut AccountDefaults) -> std::result::Result<(), Ec2Error> + Send>;

#[async_trait]
pub trait DefaultsStore: Send + Sync {
    async fn defaults(&self, scope: &Scope) -> Result<AccountDefaults>;
    async fn modify_defaults(&self, scope: &Scope, f: DefaultsMutation) -> Result<AccountDefaults>;
}
