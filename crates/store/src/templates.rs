//! Launch templates and their versions ([`TemplateStore`]).

use crate::Result;
use async_trait::async_trait;
use model::launch_template::{LaunchTemplate, LaunchTemplateVersion};
use model::{Ec2Error, Scope};

/// A change to a launch template (and possibly a new version of it).
pub type TemplateMutation = Box<
    dyn FnOnce(&mut LaunchTemplate) -> std::result::Result<Option<LaunchTemplateVersion>, Ec2Error>
        + Send,
>;

#[async_trait]
pub trait TemplateStore: Send + Sync {
    /// A new template and its first version; a name the scope already uses is
    /// `InvalidLaunchTemplateName.AlreadyExistsException`.
    async fn create_template(
        &self,
        scope: &Scope,
        t: LaunchTemplate,
        v: LaunchTemplateVersion,
    ) -> Result<()>;
    async fn templates(&self, scope: &Scope) -> Result<Vec<LaunchTemplate>>;
    async fn template_versions(
        &self,
        scope: &Scope,
        template_id: &str,
    ) -> Result<Vec<LaunchTemplateVersion>>;
    async fn update_template(
        &self,
        scope: &Scope,
        template_id: &str,
        f: TemplateMutation,
    ) -> Result<(LaunchTemplate, Option<LaunchTemplateVersion>)>;
    async fn delete_template(&self, scope: &Scope, template_id: &str) -> Result<LaunchTemplate>;
}
