//! Durable state behind one interface, [`Store`], and the change feed that metadata hosts
//! follow.
//!
//! Nothing above this crate knows which database it talks to. Today there is one
//! implementation, [`sqlite::SqliteStore`] (an embedded file under the data dir); a PostgreSQL
//! implementation will serve the same traits for several API nodes and metadata hosts.
//!
//! Writes are *mutations*: the store loads the records, hands them to a pure function of the
//! domain model (which decides and may refuse with an [`Ec2Error`](model::Ec2Error)), and
//! writes the result in the same transaction. Every acknowledged write is durable before the
//! call returns.
//!
//! The backend-neutral core, one concern per module, each a trait [`Store`] gathers (a caller
//! that needs one concern may take just its trait):
//! - [`instances`]: [`InstanceStore`]: launches, writes, the lifecycle, acknowledgements.
//! - [`tags`]: [`TagStore`]: DescribeTags across resource types.
//! - [`defaults`]: [`DefaultsStore`]: an account's metadata defaults.
//! - [`images`], [`templates`]: [`ImageStore`], [`TemplateStore`].
//! - [`network`]: [`NetworkStore`]: the VPCs and subnets accounts create.
//! - [`iam`]: [`IamStore`]: the IAM registry's documents.
//! - [`documents`]: [`DocumentStore`]: other services' documents (FIS's templates and
//!   experiments).
//! - [`feed`]: [`Feed`]: the change feed.
//! - [`error`]: what can go wrong, [`StoreError`].
//!
//! Backends: [`sqlite`]; [`postgres`] (passes the conformance suite; not yet selectable by
//! `imds serve`). `conformance` (feature `conformance`) is the suite every backend
//! must pass, through the traits alone; `tests/sqlite.rs` runs it on SQLite, `tests/postgres.rs` on PostgreSQL.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod defaults;
pub mod documents;
pub mod error;
pub mod feed;
pub mod iam;
pub mod images;
pub mod instances;
pub mod network;
mod pages;
mod paging;
pub mod postgres;
pub mod sqlite;
pub mod tags;
pub mod templates;

pub use defaults::{DefaultsMutation, DefaultsStore};
pub use documents::{DocumentKey, DocumentPage, DocumentStore};
pub use error::{Result, StoreError};
pub use feed::{Change, ChangeKind, Feed};
pub use iam::{IamKey, IamRecords, IamStore, IamWritten};
pub use images::{ImageMutation, ImageStore};
pub use instances::{
    ungated, InstanceGate, InstanceMutation, InstancePage, InstanceQuery, InstanceStore,
    LaunchBuilder, LaunchContext, LaunchOutcome, LaunchRequest, MutationContext, NextSteps,
};
pub use network::{NetworkStore, SubnetBuilder, SubnetDeletion, TagsMutation, VpcDeletion};
pub use tags::{TagPage, TagQuery, TagRow, TagStore};
pub use templates::{TemplateMutation, TemplateStore};

use async_trait::async_trait;

/// Every concern of the store, behind one object (`Arc<dyn Store>`) for callers that need
/// several.
#[async_trait]
pub trait Store:
    InstanceStore
    + TagStore
    + DefaultsStore
    + ImageStore
    + TemplateStore
    + NetworkStore
    + IamStore
    + DocumentStore
    + Feed
    + 'static
{
    /// Stop the writer after the writes already queued; later writes fail with `Closed`.
    async fn close(&self);
}
