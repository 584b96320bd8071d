//! The metadata host: what the service serves, kept current and switched as the API asks.
//!
//! It composes the [`crate::served`] table (every instance's view in memory, by id and by
//! address), the [`crate::follower`] of the store's change feed, and the [`crate::applier`]
//! (`pending` → `applied`, and association settling), and lends the service what it needs
//! per request: tokens, [`crate::credentials`] and the identity document's signatures.

use crate::applier::Applier;
use crate::counters::{Counters, InstanceMinutes, Snapshot};
use crate::credentials::Credentials;
use crate::follower::Follower;
use crate::ownership::Ownership;
use crate::rendered::Rendered;
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
    /// The instances this host switches and acknowledges (the others it serves as their
    /// owners applied them).
    ownership: watch::Sender<Arc<Ownership>>,
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
        tokens: TokenKey,
        ownership: Ownership,
    ) -> Arc<Host> {
        Arc::new(Host {
            store,
            identity,
            apply_delay,
            tokens,
            ownership: watch::Sender::new(Arc::new(ownership)),
            credentials: Credentials::new(sessions),
            table: ServedTable::new(),
            loaded: watch::Sender::new(false),
        })
    }

    /// The instance a connection from `ip` belongs to; an address of no instance is served as
    /// the default instance (the first instance of the default account and Region).
    pub fn lookup(&self, ip: IpAddr) -> Option<Served> {
        self.table.lookup(ip)
    }

    /// A receiver of the instance's entry after every change to it (`None` once it is no
    /// longer served): what follows one instance is woken by that instance alone.
    pub(crate) fn watch(&self, instance_id: &str) -> watch::Receiver<Option<Served>> {
        self.table.watch(instance_id)
    }

    pub fn served(&self, instance_id: &str) -> Option<Served> {
        self.table.served(instance_id)
    }

    /// The counters of a served instance (made on its first call).
    pub fn counters_of(&self, served: &Served) -> Arc<Counters> {
        self.table.counters_of(served.key)
    }

    /// The rendering of `served` at its version: kept, or rendered now from the store's
    /// record (`Ok(None)`: the store no longer has the instance).
    pub async fn rendered(
        &self,
        served: &Served,
    ) -> Result<Option<Arc<Rendered>>, store::StoreError> {
        render(&self.table, &*self.store, served).await
    }

    /// Per instance, its calls made inside `imds exec` counted by command and kind.
    pub fn call_counts(&self) -> Vec<(String, crate::callers::CommandCounts)> {
        self.table.call_counts()
    }

    /// Counters of every instance served.
    pub fn counters(&self) -> Vec<(String, Snapshot)> {
        self.table.counters()
    }

    /// The recent minutes of every instance called and still served, with its account and
    /// Region, by instance id: what the CloudWatch API reads `MetadataNoToken` and
    /// `MetadataNoTokenRejected` from (spec wave2.md §1.5).
    pub fn metric_minutes(&self) -> Vec<InstanceMinutes> {
        self.table.metric_minutes()
    }

    /// Role credentials (and `iam/info`) for an instance, as EC2 formats them.
    pub fn credentials(&self, v: &InstanceView, req: CredentialRequest<'_>, now_ms: i64) -> Bytes {
        self.credentials.answer(v, req, now_ms)
    }

    /// `signature` and `pkcs7` of an instance's identity document.
    pub(crate) fn identity_signatures(&self, rendered: &Rendered) -> (Bytes, Bytes) {
        rendered.identity_signatures(&self.identity)
    }

    /// Wait until [`Host::run`] has loaded every instance the store had when it started: a
    /// server announces itself ready only then.
    pub async fn loaded(&self) {
        let _ = self.loaded.subscribe().wait_for(|done| *done).await;
    }

    /// The instances this host owns now.
    pub fn ownership(&self) -> Arc<Ownership> {
        self.ownership.borrow().clone()
    }

    /// The live set changed: from now on this host owns what `ownership` gives it. It then
    /// reloads every instance, so that what the instances it gained have pending is applied.
    pub fn set_ownership(&self, ownership: Ownership) {
        self.ownership.send_if_modified(|o| {
            let changed = **o != ownership;
            if changed {
                *o = Arc::new(ownership);
            }
            changed
        });
    }

    /// Load every instance, then follow the feed and apply what it makes due, until shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut owners = self.ownership.subscribe();
        owners.borrow_and_update();
        let mut feed = self.store.watch();
        let mut follower = Follower::new(self.store.clone(), *feed.borrow_and_update());
        let mut applier = Applier::new(self.apply_delay);
        follower.load(&self.table, &mut applier).await;
        self.table.shrink();
        self.loaded.send_replace(true);
        loop {
            let now = model::time::now_ms();
            let owns = self.ownership();
            applier.run_due(now, &self.table, &*self.store, &owns).await;
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
                r = owners.changed() => {
                    if r.is_err() { return; }
                    owners.borrow_and_update();
                    tracing::info!(ownership = ?*self.ownership(), "metadata host: the live hosts changed; reloading");
                    follower.load(&self.table, &mut applier).await;
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// The rendering of `served` at its version, from `table`'s cache or rendered now from the
/// store's record, with the options the table enforces (which may be ahead of the record: the
/// applier switches before the store hears of it).
pub(crate) async fn render(
    table: &ServedTable,
    store: &dyn Store,
    served: &Served,
) -> Result<Option<Arc<Rendered>>, store::StoreError> {
    if let Some(r) = table.cached(served) {
        return Ok(Some(r));
    }
    let Some(i) = store.instance_by_id(&served.key.id()).await? else {
        return Ok(None);
    };
    let mut view = InstanceView::of(&i);
    view.options = served.options;
    view.generation = served.generation;
    view.desired = served.desired;
    view.desired_generation = served.desired_generation;
    view.can_apply = served.can_apply;
    let rendered = Arc::new(Rendered::new(view));
    table.keep_rendered(served, rendered.clone());
    Ok(Some(rendered))
}
