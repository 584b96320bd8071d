//! The applier: `pending` → `applied`, and the settling of IAM instance profile associations.
//!
//! When an instance's desired options change (or a stopped instance with pending options
//! starts, or a launch or restart finds options pending), the applier waits `apply_delay`,
//! switches the served options of that instance, and only then acknowledges the generation to
//! the store, which then reads `applied`. Until the switch, the previous options stay in force
//! (spec imds.md §11). A change to an instance that is not running is not switched: it waits
//! for the instance's next start, which schedules it again.
//!
//! Associations settle the same way: `apply_delay` after one is made, replaced or removed,
//! the applier asks the store to settle it (`associating` → `associated`, `disassociating` →
//! `disassociated`) and serves the settled record at once.

use crate::ownership::Ownership;
use crate::served::ServedTable;
use model::change::ChangeKind;
use model::InstanceState;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use store::instances::ServedRecord;
use store::Store;

/// Switches due at a time: (due, instance id, options generation).
type OptionsQueue = BinaryHeap<Reverse<(i64, String, u64)>>;
/// Associations to settle at a time: (due, instance id, association id).
type SettleQueue = BinaryHeap<Reverse<(i64, String, String)>>;

/// How long after a failed acknowledgement (the database unreachable) it is sent again.
const RETRY_MS: i64 = 1000;

pub(crate) struct Applier {
    delay_ms: i64,
    options: OptionsQueue,
    settle: SettleQueue,
    /// Switches served but not yet acknowledged (the store did not answer): sent again
    /// with the next acknowledgements, or `RETRY_MS` after the failure, so that a change
    /// this host switched still reaches `applied` once the database is back.
    unacknowledged: Vec<(String, u64)>,
    /// When `unacknowledged` is due again.
    retry_at: Option<i64>,
}

impl Applier {
    pub(crate) fn new(delay: std::time::Duration) -> Applier {
        Applier {
            delay_ms: delay.as_millis() as i64,
            options: BinaryHeap::new(),
            settle: BinaryHeap::new(),
            unacknowledged: Vec::new(),
            retry_at: None,
        }
    }

    /// An instance found when loading (at start, or after missing changes): whatever it has
    /// pending is due `apply_delay` from `now_ms`.
    pub(crate) fn found(&mut self, now_ms: i64, i: &ServedRecord) {
        let due = now_ms + self.delay_ms;
        if i.applied_generation < i.options_generation && i.state == InstanceState::Running {
            let entry = (due, i.instance_id.clone(), i.options_generation);
            self.options.push(Reverse(entry));
        }
        if let Some(a) = &i.unsettled_association {
            let entry = (due, i.instance_id.clone(), a.clone());
            self.settle.push(Reverse(entry));
        }
    }

    /// A change the feed brought, written at `at_ms` and leaving the options at `generation`:
    /// what it makes due `apply_delay` later. `i` is the instance as the store holds it now:
    /// options a later change wrote are due from that change (the feed brings it next), not
    /// from this one.
    pub(crate) fn changed(
        &mut self,
        kind: ChangeKind,
        at_ms: i64,
        generation: u64,
        i: &ServedRecord,
    ) {
        if matches!(
            kind,
            ChangeKind::Launched | ChangeKind::OptionsChanged | ChangeKind::Started
        ) && i.applied_generation < i.options_generation
            && generation >= i.options_generation
        {
            self.schedule_switch(at_ms, i);
        }
        if matches!(kind, ChangeKind::Launched | ChangeKind::ProfileChanged) {
            self.schedule_settle(at_ms, i);
        }
    }

    fn schedule_switch(&mut self, from_ms: i64, i: &ServedRecord) {
        let due = from_ms + self.delay_ms;
        let entry = (due, i.instance_id.clone(), i.options_generation);
        self.options.push(Reverse(entry));
    }

    fn schedule_settle(&mut self, from_ms: i64, i: &ServedRecord) {
        if let Some(a) = &i.unsettled_association {
            let due = from_ms + self.delay_ms;
            let entry = (due, i.instance_id.clone(), a.clone());
            self.settle.push(Reverse(entry));
        }
    }

    /// When the next switch or settlement is due.
    pub(crate) fn next_due(&self) -> Option<i64> {
        let switch = self.options.peek().map(|Reverse((at, _, _))| *at);
        let settle = self.settle.peek().map(|Reverse((at, _, _))| *at);
        switch.into_iter().chain(settle).chain(self.retry_at).min()
    }

    /// Switch and settle what is due by `now_ms` of the instances this host `owns`, then
    /// tell the store. What is due for another host's instance is dropped: its owner does
    /// it, and this host serves it when the feed brings the owner's acknowledgement (should
    /// the owner leave, the reload that follows finds it again).
    pub(crate) async fn run_due(
        &mut self,
        now_ms: i64,
        table: &ServedTable,
        store: &dyn Store,
        owns: &Ownership,
    ) {
        let mut acks = Vec::new();
        if self.retry_at.is_some_and(|at| at <= now_ms) {
            acks.append(&mut self.unacknowledged);
            self.retry_at = None;
        }
        for (id, g) in due(&mut self.options, now_ms) {
            if owns.owns(&id) && table.switch(&id, g) {
                acks.push((id, g));
            }
        }
        if !acks.is_empty() {
            if let Err(e) = store.mark_applied(&acks).await {
                tracing::error!(error = %e, "metadata host: cannot acknowledge applied options; trying again");
                self.unacknowledged.extend(acks);
                self.retry_at = Some(now_ms + RETRY_MS);
            }
        }
        let mut settling = due(&mut self.settle, now_ms);
        settling.retain(|(id, _)| owns.owns(id));
        if !settling.is_empty() {
            match store.settle_associations(&settling).await {
                Ok(settled) => {
                    for i in &settled {
                        table.install(i);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "metadata host: cannot settle profile associations; trying again");
                    for (id, a) in settling {
                        self.settle.push(Reverse((now_ms + RETRY_MS, id, a)));
                    }
                }
            }
        }
    }
}

/// Take the entries of `queue` due by `now_ms`, oldest first.
fn due<T: Ord>(queue: &mut BinaryHeap<Reverse<(i64, String, T)>>, now_ms: i64) -> Vec<(String, T)> {
    let mut out = Vec::new();
    while queue
        .peek()
        .is_some_and(|Reverse((at, _, _))| *at <= now_ms)
    {
        if let Some(Reverse((_, id, x))) = queue.pop() {
            out.push((id, x));
        }
    }
    out
}
