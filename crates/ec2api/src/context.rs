//! What handlers share, apart from HTTP: the store, the fleet's timing and the identities
//! ([`Api`]); per request, the authenticated call ([`Call`]) and, for EC2's handlers, the
//! caller and the scope it acts in ([`Ctx`]). Handlers depend on this module, never on the
//! HTTP front door ([`crate::server`]).

use crate::auth::Caller;
use crate::authz::InWrite;
use crate::protocol::query::Params;
use model::{Ec2Error, Scope};
use std::sync::Arc;
use std::time::Duration;
use store::{InstanceGate, Store};

/// Timing of the simulated fleet.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// How long `pending` → `running`, `stopping` → `stopped`, `shutting-down` → `terminated` take.
    pub transition_delay: Duration,
    /// How long terminated instances stay visible (EC2: about an hour).
    pub terminated_retention: Duration,
    /// How long EC2's two minutes of Spot interruption notice last here (`--spot-notice`);
    /// a FIS `durationBeforeInterruption` scales with it (`events::Interruption::planned`).
    pub spot_notice: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            transition_delay: Duration::from_millis(500),
            terminated_retention: Duration::from_secs(3600),
            spot_notice: Duration::from_secs(120),
        }
    }
}

/// What every handler shares.
pub struct Api {
    pub store: Arc<dyn Store>,
    pub config: ApiConfig,
    /// The identities: `--iam-config` accounts, IAM entities, the session key.
    pub principals: Arc<crate::principals::Principals>,
    /// The metadata service's counted minutes, which CloudWatch's reads answer from.
    pub metrics: Arc<dyn crate::cloudwatch::MetricSource>,
}

impl Api {
    /// Whether requests must be signed and are authorized (`--iam-config`).
    pub fn iam_enforced(&self) -> bool {
        self.principals.directory.is_some()
    }
}

/// The context of one request that handlers see.
pub struct Ctx<'a> {
    pub api: &'a Api,
    pub caller: &'a Caller,
    pub scope: Scope,
    /// The request's authorization, when it is decided inside the write to the instances it
    /// names (see [`Ctx::gate`]); `None` when it was decided before the handler, or there is
    /// none (without `--iam-config`).
    pub(crate) authorize_in_write: Option<Arc<InWrite>>,
}

impl Ctx<'_> {
    /// The gate of the write to the instances the request names: the request's authorization
    /// on the instances as the write read them, then `checked`, what the handler checked
    /// before the write. So a caller who may not do the action is refused before being told
    /// the request is invalid or names an unknown instance, as when authorization came first.
    pub(crate) fn gate(&self, checked: Result<(), Ec2Error>) -> InstanceGate {
        let authorization = self.authorize_in_write.clone();
        Box::new(move |found| {
            if let Some(a) = authorization {
                a.decide(found)?;
            }
            checked
        })
    }
}

/// One authenticated call, as the front door hands it to a dialect.
pub struct Call<'a> {
    pub api: &'a Api,
    /// The Query parameters: the URL's, then a POST's form body's.
    pub params: &'a Params,
    pub caller: &'a Caller,
    pub request_id: &'a str,
    pub source_ip: Option<std::net::IpAddr>,
}
