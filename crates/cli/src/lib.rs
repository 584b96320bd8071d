//! imds: a faithful local stand-in for the EC2 API of instance metadata options and the
//! Instance Metadata Service. This crate assembles the other crates into the `imds` command.
//!
//! - [`app`]: the composition root: [`app::App`] opens the store and starts the EC2 API, the
//!   lifecycle driver, the metadata host and service, the admin routes and the console; `imds
//!   serve`, the benchmarks and the integration tests all start it.
//! - [`config`]: flags, `IMDS_…` environment and an optional TOML file, merged into
//!   [`app::Settings`].
//! - [`serve`]: `imds serve`: an `App` until SIGINT or SIGTERM, announced and recorded.
//! - [`discovery`]: how `imds exec`, `imds endpoint` and `imds stats` find the running server.
//! - [`exec`]: `imds exec`: a command run as if on an instance, in network namespaces (or,
//!   `--rootless`, against the instance's own loopback endpoint); `imds endpoint`.
//! - `admin`: imds's own routes on the API port (namespaces, instance endpoints, the event
//!   controls, `/metrics`).
//! - [`events_cmd`]: `imds events`, the event controls from the command line.
//! - [`aemm`]: `imds aemm`: AWS's metadata mock's commands and settings, on a real instance.
//! - [`metrics`]: the OpenMetrics text of `/metrics` and the lines of `imds stats`.
//! - [`bench`]: `imds bench metadata|authz`, each against a baseline measured in the same run.
//! - [`testing`]: imds inside a Rust test ([`testing::Server`]: the app on port 0, stopped at
//!   the end).

pub mod admin;
pub mod aemm;
pub mod app;
pub mod bench;
pub mod config;
pub mod discovery;
pub mod events_cmd;
pub mod exec;
pub mod metrics;
pub mod migrate;
pub mod report;
pub mod serve;
pub mod testing;
