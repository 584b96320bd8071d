//! Identity for imds: the accounts of `--iam-config`, their access keys, and the principal
//! each key stands for. Policy evaluation (identity policies, SCPs, the `ec2:Metadata*`
//! condition keys) builds on this.
//!
//! - [`config`]: the TOML file (`[[accounts]]` with root keys and SCP files).
//! - `directory`: access key id → principal and secret, for the signature check
//!   ([`Directory`]).
//! - [`policy`]: policy documents parsed once (statements, matchers, conditions).
//! - [`condition`]: the condition operators, as IAM evaluates them.
//! - `glob`: IAM's wildcards, in actions, resources and string conditions.
//! - [`evaluate`]: the decision: explicit deny wins, SCPs and identity policies (and a
//!   boundary or session policy) must each allow, default deny.
//! - [`registry`]: users, access keys, roles, managed and inline policies, instance profiles,
//!   and the IAM API's operations on them.
//! - [`trust`]: role trust policies (who may assume a role).
//! - [`session`]: temporary credentials whose token carries its own authenticated claims.
//! - `error`: [`IamError`], IAM's own errors with their codes and statuses.
//!
//! Hand-written because no maintained crate evaluates IAM policies: the semantics (absent
//! keys, negated operators, `…IfExists`, set qualifiers, per-component ARN matching) follow
//! the IAM User Guide's "Policy evaluation logic" and "Condition operators" and are pinned by
//! the tests against spec/iam.md.

pub mod condition;
pub mod config;
mod directory;
mod error;
pub mod evaluate;
mod glob;
pub mod policy;
pub mod registry;
pub mod session;
pub mod trust;

pub use config::{ConfigError, IamConfig};
pub use directory::{Directory, Principal};
pub use error::IamError;
