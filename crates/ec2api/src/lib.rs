//! The EC2 half of imds: the Query API for instance metadata options.
//!
//! A request goes through [`server`] (HTTP), [`auth`] (who is calling), [`protocol::query`]
//! (parameters decoded against botocore's model), [`actions::Action`] (one variant per
//! operation) and the action's handler, which asks the domain model and the store; the answer
//! is encoded by [`protocol::xml`] along the model's output shape, and errors are mapped to
//! codes and statuses in one table ([`error`]).

pub mod actions;
pub mod auth;
pub mod authz;
pub mod context;
pub mod ec2;
pub mod error;
pub mod iam_api;
pub mod principals;
pub mod protocol;
pub mod query_api;
mod render;
pub mod reply;
pub mod server;
pub mod service;
pub mod sts;

pub use context::{Api, ApiConfig, Ctx};
pub use server::router;
pub use service::Service;
