//! Durable state behind one interface, [`Store`], and the change feed that metadata hosts
//! follow.
//!
//! Nothing above this crate knows which database it talks to. Today there is one
//! implementation, [`sqlite::SqliteStore`] (an embedded file under the data dir); a PostgreSQL
//! implementation will serve the same trait for several API nodes and metadata hosts.
//!
//! Writes are *mutations*: the store loads the records, hands them to a pure function of the
//! domain model (which decides and may refuse with an [`Ec2Error`]), and writes the result in
//! the same transaction. Every acknowledged write is durable before the call returns.
//!
//! `conformance` (feature `conformance`) is the suite every backend must pass, through the
//! trait alone; `tests/sqlite.rs` runs it on SQLite.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod feed;
pub mod sqlite;
mod types;

pub use feed::{Change, ChangeKind};
pub use sqlite::now_ms;
pub use types::*;

use async_trait::async_trait;
use model::image::Image;
use model::launch_template::{LaunchTemplate, LaunchTemplateVersion};
use model::{AccountDefaults, Ec2Error, Instance, Scope};
use tokio::sync::watch;

/// What can go wrong in the store: either the domain refused the change, or the database
/// failed (which the API reports as `InternalError` and logs).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] Ec2Error),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored record could not be read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("the store is shut down")]
    Closed,
    /// The file is not a database, or its pages fail SQLite's integrity check: it is never
    /// served (it would answer 500s), and the message says what to do.
    #[error(
        "the store {} is damaged ({detail}). Restore it from a backup, or move it aside: \
         imds then starts a new store there, with a first instance",
        path.display()
    )]
    Damaged {
        path: std::path::PathBuf,
        detail: String,
    },
}

impl From<StoreError> for Ec2Error {
    fn from(e: StoreError) -> Ec2Error {
        match e {
            StoreError::Refused(e) => e,
            other => {
                tracing::error!(error = %other, "store failure");
                Ec2Error::InternalError
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An IAM record's key: (account, kind, name).
pub type IamKey = (String, String, String);
/// IAM records by key.
pub type IamRecords = std::collections::BTreeMap<IamKey, String>;

/// A change to instances, decided by the model. Called once per instance, in the order the
/// ids were given; any error aborts the whole call and nothing is written.
pub type InstanceMutation =
    Box<dyn FnMut(&mut Instance, &MutationContext) -> std::result::Result<(), Ec2Error> + Send>;

/// What a write to instances asks before it changes anything: called once, inside the write,
/// with the instances it found (in the order the ids were given) before it reports unknown
/// ids; an error aborts the write and nothing is written. The EC2 API authorizes there, on
/// the instances as the write read them.
pub type InstanceGate = Box<dyn FnOnce(&[Instance]) -> std::result::Result<(), Ec2Error> + Send>;

/// The gate of a write that asks nothing first.
pub fn ungated() -> InstanceGate {
    Box::new(|_| Ok(()))
}

/// A change to an account's defaults.
pub type DefaultsMutation =
    Box<dyn FnOnce(&mut AccountDefaults) -> std::result::Result<(), Ec2Error> + Send>;

/// A change to an image.
pub type ImageMutation = Box<dyn FnOnce(&mut Image) -> std::result::Result<(), Ec2Error> + Send>;

/// A change to a launch template (and possibly a new version of it).
pub type TemplateMutation = Box<
    dyn FnOnce(&mut LaunchTemplate) -> std::result::Result<Option<LaunchTemplateVersion>, Ec2Error>
        + Send,
>;

/// Builds a new subnet of a VPC (given with its subnets, default ones included) inside the
/// write transaction; the model checks its block against them.
pub type SubnetBuilder = Box<
    dyn FnOnce(
            &model::vpc::Vpc,
            &[model::vpc::Subnet],
        ) -> std::result::Result<model::vpc::Subnet, Ec2Error>
        + Send,
>;

/// Decides whether a VPC may be deleted, given how many subnets it has.
pub type VpcDeletion =
    Box<dyn FnOnce(&model::vpc::Vpc, usize) -> std::result::Result<(), Ec2Error> + Send>;

/// Decides whether a subnet may be deleted, given how many addresses instances hold in it.
pub type SubnetDeletion =
    Box<dyn FnOnce(&model::vpc::Subnet, u64) -> std::result::Result<(), Ec2Error> + Send>;

/// A change to the tags of a VPC or subnet.
pub type TagsMutation =
    Box<dyn FnOnce(&mut Vec<model::tags::Tag>) -> std::result::Result<(), Ec2Error> + Send>;

/// Builds the instances of a launch inside the write transaction, once the store has
/// allocated their addresses and checked the client token.
pub type LaunchBuilder =
    Box<dyn FnOnce(&LaunchContext) -> std::result::Result<Vec<Instance>, Ec2Error> + Send>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- instances ----
    /// Launch instances. With a client token already used in this scope, returns the
    /// instances of that launch (idempotency) without calling `build`.
    async fn launch(
        &self,
        scope: &Scope,
        req: LaunchRequest,
        build: LaunchBuilder,
    ) -> Result<LaunchOutcome>;
    /// The instances with these ids; any unknown id is `InvalidInstanceID.NotFound`.
    async fn instances(&self, scope: &Scope, ids: &[String]) -> Result<Vec<Instance>>;
    /// One page of instances in launch order.
    async fn describe_instances(&self, scope: &Scope, q: &InstanceQuery) -> Result<InstancePage>;
    /// Ask `gate` with the instances found, then apply `f` to each instance; returns (before,
    /// after) pairs.
    async fn update_instances(
        &self,
        scope: &Scope,
        ids: &[String],
        gate: InstanceGate,
        f: InstanceMutation,
    ) -> Result<Vec<(Instance, Instance)>>;
    /// Take every lifecycle transition due by `now_ms`; purge terminated instances whose
    /// time to stay visible has passed. Returns the next due time, if any.
    async fn advance(&self, now_ms: i64, purge_before_ms: i64) -> Result<Option<i64>>;
    /// When the next lifecycle step is due (a transition, or a purge given `retention_ms`).
    async fn next_due(&self, retention_ms: i64) -> Result<Option<i64>>;
    /// The metadata host serving these instances has switched to these options generations.
    /// Returns how many instances changed to `applied`.
    async fn mark_applied(&self, applied: &[(String, u64)]) -> Result<usize>;
    /// The metadata host serving these instances now serves these IAM instance profile
    /// associations (instance id, association id): each settles (`associating` →
    /// `associated`, `disassociating` → `disassociated`). Returns the instances that changed.
    async fn settle_associations(&self, settled: &[(String, String)]) -> Result<Vec<Instance>>;
    /// Instances that are running with options not yet applied (for recovery at start).
    async fn pending_applies(&self) -> Result<Vec<(String, u64)>>;
    /// One instance by id, whatever its account and Region (for the metadata hosts).
    async fn instance_by_id(&self, instance_id: &str) -> Result<Option<Instance>>;
    /// Every instance of every account, in launch order, a page at a time (for the metadata
    /// hosts' initial load): the instances after position `after`, and the next position.
    async fn all_instances(&self, after: Option<i64>, limit: u32) -> Result<InstancePage>;
    /// Tags of every resource type in the scope (DescribeTags), filtered.
    async fn describe_tags(&self, scope: &Scope, q: &TagQuery) -> Result<TagPage>;
    async fn count_instances(&self) -> Result<u64>;
    /// How many addresses of each of these subnets instances hold: every instance not yet
    /// `terminated` holds its private address (EC2 releases it at termination), whatever
    /// its account, since addresses are allocated per subnet id.
    async fn subnet_usage(
        &self,
        subnet_ids: &[String],
    ) -> Result<std::collections::HashMap<String, u64>>;

    // ---- account defaults ----
    async fn defaults(&self, scope: &Scope) -> Result<AccountDefaults>;
    async fn modify_defaults(&self, scope: &Scope, f: DefaultsMutation) -> Result<AccountDefaults>;

    // ---- images (the account's own; the catalogue's public images live in the model) ----
    async fn put_image(&self, scope: &Scope, image: Image) -> Result<()>;
    async fn images(&self, scope: &Scope) -> Result<Vec<Image>>;
    async fn update_image(&self, scope: &Scope, image_id: &str, f: ImageMutation) -> Result<Image>;

    // ---- launch templates ----
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

    // ---- VPCs and subnets an account creates (the default VPC is the catalogue's) ----
    async fn create_vpc(&self, scope: &Scope, vpc: model::vpc::Vpc) -> Result<()>;
    /// The scope's VPCs, in creation order.
    async fn vpcs(&self, scope: &Scope) -> Result<Vec<model::vpc::Vpc>>;
    /// Delete a VPC once `check` allows it; unknown is `InvalidVpcID.NotFound`.
    async fn delete_vpc(
        &self,
        scope: &Scope,
        vpc_id: &str,
        check: VpcDeletion,
    ) -> Result<model::vpc::Vpc>;
    /// Create a subnet in a VPC of the scope (or its Region's default VPC).
    async fn create_subnet(
        &self,
        scope: &Scope,
        vpc_id: &str,
        build: SubnetBuilder,
    ) -> Result<model::vpc::Subnet>;
    /// The scope's subnets, in creation order.
    async fn subnets(&self, scope: &Scope) -> Result<Vec<model::vpc::Subnet>>;
    /// Delete a subnet once `check` allows it; unknown is `InvalidSubnetID.NotFound`.
    async fn delete_subnet(
        &self,
        scope: &Scope,
        subnet_id: &str,
        check: SubnetDeletion,
    ) -> Result<model::vpc::Subnet>;
    /// Change the tags of a VPC or subnet of the scope (by its id).
    async fn update_network_tags(&self, scope: &Scope, id: &str, f: TagsMutation) -> Result<()>;

    // ---- IAM entities (documents the `iam` registry writes) ----
    /// Every IAM record: (account, kind, name) → document.
    async fn iam_records(&self) -> Result<IamRecords>;
    /// Write and delete IAM records in one transaction.
    async fn write_iam(&self, puts: IamRecords, deletes: Vec<IamKey>) -> Result<()>;

    // ---- change feed ----
    /// Changes with a sequence number above `after`, oldest first, at most `limit`.
    async fn changes_after(&self, after: u64, limit: u32) -> Result<Vec<Change>>;
    /// The sequence number of the oldest change the feed still holds (`None` when it holds
    /// none). A follower that has not seen every change before it reloads from the store.
    async fn oldest_change(&self) -> Result<Option<u64>>;
    /// The latest committed sequence number; changes whenever a write commits.
    fn watch(&self) -> watch::Receiver<u64>;

    /// Stop the writer after the writes already queued; later writes fail with `Closed`.
    async fn close(&self);
}
