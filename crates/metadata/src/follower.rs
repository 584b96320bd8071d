//! The feed follower: loads every instance once, then keeps the served-state table current
//! from the store's change feed, and tells the applier what each change makes due.
//!
//! Each change is read with its instance as the store holds it now (`store::feed`), so the
//! follower never reads an instance back. The echo of the host's own acknowledgement
//! (`applied` at a generation the table already serves) is skipped. A follower that finds it has missed changes (the feed
//! was trimmed past its cursor) reloads every instance from the store instead.

use crate::applier::Applier;
use crate::instance_key::InstanceKey;
use crate::served::{Facts, ServedTable};
use model::change::ChangeKind;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use store::{Change, Store};

/// Changes per read of the feed.
const PAGE: u32 = 1000;

/// Instances read per page when loading: a few hundred kilobytes of compact columns.
const LOAD_PAGE: u32 = 4000;

pub(crate) struct Follower {
    store: Arc<dyn Store>,
    /// The sequence number of the last change seen.
    cursor: u64,
}

impl Follower {
    /// A follower whose feed starts at `cursor` (the latest sequence number when it starts,
    /// before it loads: what is written meanwhile is both loaded and followed, harmlessly).
    pub(crate) fn new(store: Arc<dyn Store>, cursor: u64) -> Follower {
        Follower { store, cursor }
    }

    /// Load every instance of the store into `table` (and what each has pending into the
    /// applier), retrying until the store answers; anything served that the store no longer
    /// has is removed. Only the compact columns are read, a page at a time: no instance's
    /// document is decoded (its rendering waits for a request that needs it). The next page
    /// is read while this one is installed: SQLite works on its connection's thread while
    /// the table is filled on this one, so a million instances take the longer of the two,
    /// not their sum.
    pub(crate) async fn load(&mut self, table: &ServedTable, applier: &mut Applier) {
        // What is served and no longer in the store goes; a first load has nothing to remove
        // and need not remember a million keys.
        let reload = !table.is_empty();
        let mut seen = HashSet::new();
        let mut page = served_page(self.store.clone(), None).await;
        loop {
            // A task of its own, so that the rows stream in on another worker meanwhile.
            let next = page
                .next
                .map(|n| tokio::spawn(served_page(self.store.clone(), Some(n))));
            let install = async {
                let now = model::time::now_ms();
                for r in &page.records {
                    table.install_facts(&Facts::of_record(r));
                    applier.found(now, r);
                    if reload {
                        seen.extend(InstanceKey::parse(&r.instance_id));
                    }
                }
            };
            install.await;
            let Some(next) = next else { break };
            page = match next.await {
                Ok(p) => p,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Cancelled: the runtime is shutting down.
                Err(_) => return,
            };
        }
        if reload {
            table.retain(&seen);
        }
    }

    /// Follow the feed up to `latest`.
    pub(crate) async fn catch_up(
        &mut self,
        latest: u64,
        table: &ServedTable,
        applier: &mut Applier,
    ) {
        while self.cursor < latest {
            let changes = match self.store.changes_after(self.cursor, PAGE).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "metadata host: cannot read the change feed");
                    return;
                }
            };
            let Some(first) = changes.first() else {
                return;
            };
            if first.seq > self.cursor + 1 && self.missed(first.seq).await {
                tracing::warn!(
                    cursor = self.cursor,
                    "metadata host: the change feed was trimmed past what it had seen; reloading"
                );
                self.cursor = latest.max(changes.last().map_or(0, |c| c.seq));
                self.load(table, applier).await;
                return;
            }
            for c in changes {
                self.cursor = c.seq;
                follow(&c, table, applier);
            }
        }
    }

    /// Whether changes between the cursor and `next` (the first one read after it) are gone
    /// from the feed, not merely never written (a backend's sequence may have gaps).
    async fn missed(&self, next: u64) -> bool {
        match self.store.oldest_change().await {
            Ok(oldest) => {
                next > self.cursor + 1 && !matches!(oldest, Some(o) if o <= self.cursor + 1)
            }
            Err(e) => {
                tracing::error!(error = %e, "metadata host: cannot read where the feed starts");
                true
            }
        }
    }
}

/// The page of served instances after `after`, retrying until the store answers.
async fn served_page(store: Arc<dyn Store>, after: Option<i64>) -> store::instances::ServedPage {
    loop {
        match store.served_instances(after, LOAD_PAGE).await {
            Ok(page) => return page,
            Err(e) => {
                tracing::error!(error = %e, "metadata host: cannot load instances; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Serve the instance of one change as the store holds it now; one the store no longer
/// holds (purged, by this change or a later one) is served no more.
fn follow(c: &Change, table: &ServedTable, applier: &mut Applier) {
    let Some(i) = c.served.as_ref().filter(|_| c.kind != ChangeKind::Purged) else {
        table.remove(&c.instance_id);
        return;
    };
    // The echo of an acknowledgement: the table already serves that generation.
    let own_echo = c.kind == ChangeKind::Applied
        && table
            .served(&i.instance_id)
            .is_some_and(|s| s.generation >= i.applied_generation);
    if !own_echo {
        table.install_facts(&Facts::of_record(i));
    }
    applier.changed(c.kind, c.at_ms, c.generation, i);
}
