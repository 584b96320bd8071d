//! The API endpoint of imds: EC2's Query API for instance metadata options, and the IAM and
//! STS Query APIs on the same port.
//!
//! # Map
//!
//! * The front door, [`server`]: body limit, request id, the Query parameters
//!   ([`protocol::query::Params`]), the [`Service`] a request is for (`service`), who is
//!   calling ([`auth`], with the `sigv4` crate), then the dialect's `handle`.
//! * One module per dialect, each parsing the action into an enum and answering in its own
//!   envelope: `ec2` (parameters decoded along botocore's model by [`protocol::query`] and
//!   typed once into an [`actions::Request`], authorized per operation on that typed input by
//!   [`authz`], run by the handlers of [`actions`], encoded by [`protocol::xml`]),
//!   `iam_api` and `sts` (the plain Query protocol: decoded along botocore's `iam` and `sts`
//!   models by the same [`protocol::query`] walk, typed inputs read by serde, results
//!   arranged along the output shapes and written by `query_api`).
//! * [`fis`]: AWS Fault Injection Service's rest-json API (by path: `/experimentTemplates`,
//!   `/experiments`, `/actions`), whose experiments schedule Spot interruptions.
//! * [`error`]: errors that render themselves ([`error::AwsError`], one table per dialect),
//!   into a [`reply::Reply`].
//! * [`context`]: what handlers share ([`Api`]), one authenticated call ([`context::Call`]),
//!   EC2's handler context ([`Ctx`]); handlers never see HTTP.
//! * [`lifecycle`]: the driver of instance state transitions.
//! * [`principals`]: the identities (`--iam-config`, the IAM registry, the session key).
//! * `render`: domain records as EC2's output members.

pub mod actions;
pub mod auth;
pub mod authz;
pub mod cloudwatch;
pub mod context;
mod ec2;
pub mod error;
pub mod fis;
pub mod iam_api;
pub mod lifecycle;
pub mod principals;
pub mod protocol;
mod query_api;
mod render;
pub mod reply;
pub mod server;
mod service;
pub mod sts;

pub use context::{Api, ApiConfig, Ctx};
pub use server::router;
pub use service::Service;
