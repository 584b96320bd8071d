//! The applier: it stands for the metadata host of every instance until the Instance
//! Metadata Service exists. It follows the store's change feed, and an `apply_delay` after a
//! change (or after the instance reaches `running`) tells the store that the instance's host
//! has switched to that generation of options, which then reads `applied`.
//!
//! It keeps no state the store does not have: after a restart, instances still `pending`
//! are found by `pending_applies` and applied again.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use store::{ChangeKind, Store};
use tokio::sync::watch;

pub async fn run(store: Arc<dyn Store>, delay: Duration, mut shutdown: watch::Receiver<bool>) {
    let delay_ms = delay.as_millis() as i64;
    let mut feed = store.watch();
    let mut cursor = *feed.borrow_and_update();
    // due time, instance, generation
    let mut queue: BinaryHeap<Reverse<(i64, String, u64)>> = BinaryHeap::new();
    let mut newest: HashMap<String, u64> = HashMap::new();
    let now = store::now_ms();
    match store.pending_applies().await {
        Ok(list) => {
            for (id, generation) in list {
                newest.insert(id.clone(), generation);
                queue.push(Reverse((now + delay_ms, id, generation)));
            }
        }
        Err(e) => tracing::error!(error = %e, "applier: cannot read pending options"),
    }
    loop {
        // Apply everything that is due, in one write.
        let now = store::now_ms();
        let mut due = Vec::new();
        while let Some(Reverse((at, _, _))) = queue.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, id, generation))) = queue.pop() else {
                break;
            };
            if newest.get(&id) == Some(&generation) {
                newest.remove(&id);
                due.push((id, generation));
            }
        }
        if !due.is_empty() {
            if let Err(e) = store.mark_applied(&due).await {
                tracing::error!(error = %e, "applier: cannot mark options applied; retrying");
                for (id, generation) in due {
                    newest.insert(id.clone(), generation);
                    queue.push(Reverse((now + 1000, id, generation)));
                }
            }
        }
        let wait = queue
            .peek()
            .map(|Reverse((at, _, _))| Duration::from_millis((at - now).clamp(1, 60_000) as u64))
            .unwrap_or(Duration::from_secs(60));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            r = feed.changed() => {
                if r.is_err() { return; }
                let latest = *feed.borrow_and_update();
                while cursor < latest {
                    let changes = match store.changes_after(cursor, 1000).await {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::error!(error = %e, "applier: cannot read the change feed");
                            break;
                        }
                    };
                    if changes.is_empty() { break; }
                    for c in changes {
                        cursor = c.seq;
                        if matches!(c.kind, ChangeKind::Launched | ChangeKind::OptionsChanged | ChangeKind::Started) {
                            newest.insert(c.instance_id.clone(), c.generation);
                            queue.push(Reverse((c.at_ms + delay_ms, c.instance_id, c.generation)));
                        }
                    }
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}
