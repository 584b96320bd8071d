//! The Instance Metadata Service: what a process on an instance sees at 169.254.169.254.
//!
//! - `host`: the metadata host ([`Host`]), which composes the three below and lends the
//!   service its tokens, credentials and signatures. Requests never touch the database.
//!   - [`served`]: the served-state table: per instance a compact entry (what enforcement
//!     needs: options, generations, state, address, boot), by id and by address, and the
//!     default instance; counters of the instances called; followers of one instance.
//!   - [`rendered`]: the rest of an instance (view, category tree, identity document)
//!     rendered on demand from the store's record, in a bounded cache keyed by the entry's
//!     version.
//!   - [`instance_key`]: instance ids packed into ten bytes.
//!   - `follower`: loads every instance (its compact columns only), then follows the store's change feed (read with
//!     each instance as the store holds it), reloading if it missed changes.
//!   - `applier`: switches an instance to newly desired options `--apply-delay` after the
//!     change, and only then acknowledges the generation to the store (`applied`); settles
//!     IAM instance profile associations; for the instances this host owns alone.
//!   - [`ownership`]: which instances those are when several hosts share one fleet.
//! - `credentials`: role credentials and `iam/info`, as EC2 formats them.
//! - [`identity`]: the identity document and its signatures.
//! - [`view`]: what the service knows of one instance (from `model::Instance`).
//! - `tree`: the category tree of `meta-data/`, built once per rendering.
//! - [`token`]: IMDSv2 session tokens, authenticated with a key the server holds (every
//!   node of one PostgreSQL database the same).
//! - [`service`]: one request in, one reply out, as EC2's service answers it (pure).
//! - [`server`]: the accept loop: finds the instance by source address, serves one request
//!   per connection, and sets the IP TTL of token replies to the hop limit.
//! - [`netns`]: serving at 169.254.169.254 inside the namespaces `imds exec` builds.
//! - [`endpoints`]: a loopback port per instance, for users without root (SDKs take it as
//!   `AWS_EC2_METADATA_SERVICE_ENDPOINT`).
//! - `tasks`: the listeners `endpoints` and `netns` spawn, awaited at shutdown. Every listener
//!   of the service goes through [`server::serve`], hence the `listen` crate's gate (one
//!   connection cap for the service) and its drain.
//! - [`counters`]: `MetadataNoToken`, `MetadataNoTokenRejected`, requests, tokens, per
//!   instance and per minute; [`callers`]: which process made each call inside `imds exec`.
//!
//! The modules linked above are the crate's interface (the binary, its tests and the fuzz
//! targets use them); the others are its own.

mod applier;
pub mod callers;
pub mod counters;
mod credentials;
pub mod endpoints;
mod follower;
mod host;
#[cfg(test)]
mod host_tests;
pub mod identity;
pub mod instance_key;
pub mod netns;
pub mod ownership;
pub mod rendered;
pub mod served;
pub mod server;
pub mod service;
mod tasks;
pub mod token;
mod tree;
pub mod view;

pub use host::Host;
