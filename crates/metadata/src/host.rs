//! The metadata host: what the service serves, kept current and switched as the API asks.
//!
//! It composes the [`crate::served`] table (every instance's view in memory, by id and by
//! address), the [`crate::follower`] of the store's change feed, and the [`crate::applier`]
//! (`pending` → `applied`, and association settling), and lends the service what it needs
//! per request: tokens, [`crate::credentials`] and the identity document's signatures.

use crate::applier::Applier;
use crate::counters::Snapshot;
use crate::credentials::Credentials;
use crate::follower::Follower;
use crate::served::{Served, ServedTable};
use crate::service::CredentialRequest;
use crate::token::TokenKey;
use crate::view::InstanceView;
use bytes::Bytes;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tokio::sync::watch;

pub struct Host {
    store: Arc<dyn Store>,
    identity: Arc<crate::identity::IdentitySigner>,
    apply_delay: Duration,
    pub tokens: TokenKey,
    credentials: Credentials,
    table: ServedTable,
    /// Whether every instance of the store has been loaded (until then an address is not
    /// yet known to belong to its instance).
    loaded: watch::Sender<bool>,
}

impl Host {
    pub fn new(
        store: Arc<dyn Store>,
        apply_delay: Duration,
        identity: Arc<crate::identity::IdentitySigner>,
        sessions: Arc<iam::session::SessionKey>,
    ) -> Arc<Host> {
        Arc::new(Host {
            store,
            identity,
            apply_delay,
            tokens: TokenKey::random(),
            credentials: Credentials::new(sessions),
            table: ServedTable::new(),
            loaded: watch::Sender::new(false),
        })
    }

    /// The instance a connection from `ip` belongs to; an address of no instance is served as
    /// the default instance (the first instance of the default account and Region).
    pub fn lookup(&self, ip: IpAddr) -> Option<Arc<Served>> {
        self.table.lookup(ip)
    }

    /// A receiver that sees a new value after every view was put or removed.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.table.subscribe()
    }

    pub fn served(&self, instance_id: &str) -> Option<Arc<Served>> {
        self.table.served(instance_id)
    }

    /// Counters of every instance served.
    pub fn counters(&self) -> Vec<(String, Snapshot)> {
        self.table.counters()
    }

    /// Role credentials (and `iam/info`) for an instance, as EC2 formats them.
    pub fn credentials(&self, v: &InstanceView, req: CredentialRequest<'_>, now_ms: i64) -> Bytes {
        self.credentials.answer(v, req, now_ms)
    }

    /// `signature` and `pkcs7` of an instance's identity document.
    pub(crate) fn identity_signatures(&self, served: &Served) -> (Bytes, Bytes) {
        served.identity_signatures(&self.identity)
    }

    /// Wait until [`Host::run`] has loaded every instance the store had when it started: a
    /// server announces itself ready only then.
    pub async fn loaded(&self) {
        let _ = self.loaded.subscribe().wait_for(|done| *done).await;
    }

    /// Load every instance, then follow the feed and apply what it makes due, until shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut feed = self.store.watch();
        let mut follower = Follower::new(self.store.clone(), *feed.borrow_and_update());
        let mut applier = Applier::new(self.apply_delay);
        follower.load(&self.table, &mut applier).await;
        self.loaded.send_replace(true);
        loop {
            let now = model::time::now_ms();
            applier.run_due(now, &self.table, &*self.store).await;
            let wait = applier
                .next_due()
                .map(|at| Duration::from_millis((at - now).clamp(1, 60_000) as u64))
                .unwrap_or(Duration::from_secs(60));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                r = feed.changed() => {
                    if r.is_err() { return; }
                    let latest = *feed.borrow_and_update();
                    follower.catch_up(latest, &self.table, &mut applier).await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}
