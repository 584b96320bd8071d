//! The domain of imds: EC2 instances and their instance metadata options, as the EC2
//! documentation defines them.
//!
//! Everything here is pure (no I/O, no randomness, no rule that reads the clock): callers
//! read the clock ([`time::now_ms`], the one place it is read) and pass `now` and random
//! bytes in. That keeps every AWS rule testable in microseconds and shared by the API, the
//! console and the CLI alike.
//!
//! - [`options`]: `HttpTokens`, `HopLimit`, … and the per-instance [`MetadataOptions`].
//! - [`defaults`]: the account-level defaults (`ModifyInstanceMetadataDefaults`);
//!   [`declarative`]: an organization's declarative policies that manage them.
//! - `precedence`: how the options of a new instance are resolved at launch, and the
//!   enforcement check (used through [`launch`] and [`Instance`]).
//! - [`instance`]: instances, their lifecycle, attributes and the `pending` → `applied` state
//!   of their options.
//! - [`events`]: Spot interruptions, rebalance recommendations, scheduled maintenance and
//!   the Auto Scaling target state, and the metadata service's bodies for them.
//! - [`fis`]: AWS Fault Injection Service's rules: experiment templates, target selection,
//!   ISO 8601 durations, and experiments' states derived from their times.
//! - [`change`]: what a write did to an instance ([`change::ChangeKind`]), for the change feed.
//! - [`placement`]: which metadata host serves an instance when several share a fleet.
//! - [`launch`]: launch planning: what RunInstances makes of a resolved request, with
//!   `ShutdownBehavior` and `CpuCredits`.
//! - [`launch_template`]: launch templates and their versions.
//! - [`profile_association`]: IAM instance profile associations and their states.
//! - [`tags`]: tag validation, and the stricter key rule for tags in instance metadata.
//! - [`filter`]: the filters of the Describe* actions and EC2's wildcards.
//! - [`image`]: machine images and their `ImdsSupport`.
//! - [`time`]: the clock, and dates as EC2 and the metadata service write them (the one
//!   formatter).
//! - [`catalogue`]: the built-in public images, instance types and default VPCs.
//! - [`vpc`], [`cidr`]: VPCs and subnets, their CIDR rules and the reserved addresses.
//! - [`ids`]: the formats of EC2 resource ids; [`arn`]: Amazon Resource Names, built and taken apart.
//! - [`limits`]: EC2's limits on one request, and the bounds of the Query decoder.
//! - [`metrics`]: CloudWatch's IMDS metrics, and GetMetricStatistics's window and datapoints.
//! - [`migration`]: the IMDSv2 planner's verdict on an instance from its metadata traffic.
//! - `error`: [`Ec2Error`], every error a request can get, worded as EC2 words it.
//! - `testing` (feature `test-support`): a sample instance for the tests of the crates above.

pub mod arn;
pub mod catalogue;
pub mod change;
pub mod cidr;
pub mod declarative;
pub mod defaults;
mod error;
pub mod events;
pub mod filter;
pub mod fis;
pub mod ids;
pub mod image;
pub mod instance;
pub mod launch;
pub mod launch_template;
pub mod limits;
pub mod metrics;
pub mod migration;
pub mod options;
pub mod placement;
mod precedence;
pub mod profile_association;
pub mod tags;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod time;
pub mod vpc;

pub use arn::Arn;
pub use defaults::{AccountDefaults, Preference};
pub use error::Ec2Error;
pub use instance::{Instance, InstanceState};
pub use options::{
    HopLimit, HttpEndpoint, HttpProtocolIpv6, HttpTokens, InstanceMetadataTags, MetadataOptions,
    OptionsPatch, OptionsState,
};

/// The account and region a resource lives in: EC2 resources are regional and per account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Scope {
    pub account: String,
    pub region: String,
}

impl Scope {
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        Scope {
            account: account.into(),
            region: region.into(),
        }
    }
}

/// The account every credential acts as until IAM configuration exists, and the account
/// of the instance created on first start.
pub const DEFAULT_ACCOUNT: &str = "123456789012";
/// The region of the instance created on first start.
pub const DEFAULT_REGION: &str = "us-east-1";
