//! imds inside a Rust test: the whole app (store, EC2 API, metadata service, lifecycle) in
//! the test's own process, on loopback port 0, with a throw-away store and short delays, and
//! stopped when the test is done. The same [`App`] `imds serve` runs, so a test meets what
//! users meet: the wire, the errors, `pending` → `applied`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), imds::app::AppError> {
//! let server = imds::testing::Server::start().await?;
//! // e.g. aws_config::from_env().endpoint_url(server.api_url()) for the AWS SDK for Rust,
//! // or plain HTTP: POST Action=RunInstances&… to server.api_url() (unsigned is the root of
//! // 123456789012 without an IAM configuration).
//! let metadata = server.metadata_url(); // the first instance's metadata service
//! server.stop().await;
//! # Ok(()) }
//! ```

use crate::app::{App, AppError, FirstInstance, Settings};
use std::path::PathBuf;
use std::time::Duration;

/// A running imds for a test. Call [`Server::stop`] at the end: it drains and awaits every
/// task (dropping it leaves them to the runtime, which ends them with the test).
pub struct Server {
    app: App,
}

/// How to start a [`Server`] other than [`Server::start`]'s way.
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    settings: Settings,
    first_instance: FirstInstance,
}

impl ServerBuilder {
    /// Accounts, keys and SCPs (`imds serve --iam-config`): requests must then be signed.
    pub fn iam_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.iam_config = Some(path.into());
        self
    }

    /// How long changed metadata options stay `pending` (default 10 ms).
    pub fn apply_delay(mut self, delay: Duration) -> Self {
        self.settings.apply_delay = delay;
        self
    }

    /// How long `pending` → `running` and the other transitions take (default 10 ms).
    pub fn transition_delay(mut self, delay: Duration) -> Self {
        self.settings.transition_delay = delay;
        self
    }

    /// How long a Spot interruption notice lasts (default EC2's two minutes).
    pub fn spot_notice(mut self, notice: Duration) -> Self {
        self.settings.spot_notice = notice;
        self
    }

    /// Without the first instance `imds serve` makes in a new store (`Name=imds-default`).
    pub fn without_first_instance(mut self) -> Self {
        self.first_instance = FirstInstance::Never;
        self
    }

    pub async fn start(self) -> Result<Server, AppError> {
        let app = App::builder(self.settings)
            .first_instance(self.first_instance)
            .start()
            .await?;
        Ok(Server { app })
    }
}

impl Server {
    /// A server as `imds serve --ephemeral` on free loopback ports, with its first instance.
    pub async fn start() -> Result<Server, AppError> {
        Server::builder().start().await
    }

    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            settings: Settings::ephemeral_on_port_zero(),
            first_instance: FirstInstance::WhenNew,
        }
    }

    /// `http://127.0.0.1:PORT`: the EC2 API (and IAM, STS, CloudWatch, FIS, the console and
    /// imds's own `/_imds/…` routes).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.app.api_addr())
    }

    /// `http://127.0.0.1:PORT`: the metadata service on loopback, which serves the first
    /// instance (each instance's own endpoint: `GET /_imds/instances/{id}/endpoint` on the API).
    pub fn metadata_url(&self) -> String {
        format!("http://{}", self.app.imds_addr())
    }

    /// The variables the AWS SDKs and the aws CLI take this server from (`AWS_ENDPOINT_URL`,
    /// keys any server without an IAM configuration accepts, the Region, the metadata
    /// endpoint), to set for a child process.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.api_url()),
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE".into()),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            ),
            ("AWS_REGION", model::DEFAULT_REGION.into()),
            ("AWS_DEFAULT_REGION", model::DEFAULT_REGION.into()),
            (
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                self.metadata_url() + "/",
            ),
        ]
    }

    /// The app itself (its store, API and metadata host), for what a test wants to look at
    /// beneath the wire.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Drain and stop every task; the throw-away store goes with it.
    pub async fn stop(self) {
        self.app.stop().await;
    }
}
