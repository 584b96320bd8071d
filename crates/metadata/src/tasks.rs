//! The tasks a part of the service spawns (listeners and what follows them), kept so that a
//! shutdown can wait for every one of them to finish draining instead of dropping them with
//! the runtime.

use std::future::Future;
use std::sync::Mutex;
use tokio::task::JoinSet;

#[derive(Default)]
pub(crate) struct Tasks(Mutex<JoinSet<()>>);

impl Tasks {
    /// Run `task`, kept until it ends (tasks already ended are let go now).
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        while set.try_join_next().is_some() {}
        set.spawn(task);
    }

    /// Wait until every task spawned so far has ended. Each must be on its way to end (their
    /// stop signal sent), or this waits for as long as they run.
    pub(crate) async fn join(&self) {
        let mut set = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        while set.join_next().await.is_some() {}
    }
}
