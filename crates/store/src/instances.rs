//! Instances: launches, the writes the model decides, the lifecycle's transitions and purge,
//! and the metadata hosts' acknowledgements ([`InstanceStore`]), with the requests and pages
//! it takes and gives.

use crate::Result;
use async_trait::async_trait;
use model::filter::Filter;
use model::{Ec2Error, Instance, Scope};
use std::net::Ipv4Addr;

/// A change to instances, decided by the model. Called once per instance, in the order the
/// ids were given; any error aborts the whole call and nothing is written.
pub type InstanceMutation =
    Box<dyn FnMut(&mut Instance, &MutationContext) -> std::result::Result<(), Ec2Error> + Send>;

/// What a write to instances asks before it changes anything: called once, inside the write,
/// with the instances it found (in the order the ids were given) before it reports unknown
/// ids; an error aborts the write and nothing is written. The EC2 API authorizes there, on
/// the instances as the write read them.
pub type InstanceGate = Box<dyn FnOnce(&[Instance]) -> std::result::Result<(), Ec2Error> + Send>;

/// The gate of a write that asks nothing first.
pub fn ungated() -> InstanceGate {
    Box::new(|_| Ok(()))
}

/// Builds the instances of a launch inside the write transaction, once the store has
/// allocated their addresses and checked the client token.
pub type LaunchBuilder =
    Box<dyn FnOnce(&LaunchContext) -> std::result::Result<Vec<Instance>, Ec2Error> + Send>;

#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// Launch instances. With a client token already used in this scope, returns the
    /// instances of that launch (idempotency) without calling `build`.
    async fn launch(
        &self,
        scope: &Scope,
        req: LaunchRequest,
        build: LaunchBuilder,
    ) -> Result<LaunchOutcome>;
    /// The instances with these ids; any unknown id is `InvalidInstanceID.NotFound`.
    async fn instances(&self, scope: &Scope, ids: &[String]) -> Result<Vec<Instance>>;
    /// One page of instances in launch order.
    async fn describe_instances(&self, scope: &Scope, q: &InstanceQuery) -> Result<InstancePage>;
    /// Ask `gate` with the instances found, then apply `f` to each instance; returns (before,
    /// after) pairs.
    async fn update_instances(
        &self,
        scope: &Scope,
        ids: &[String],
        gate: InstanceGate,
        f: InstanceMutation,
    ) -> Result<Vec<(Instance, Instance)>>;
    /// Take every lifecycle transition due by `now_ms`; purge terminated instances whose
    /// time to stay visible has passed. Returns the next due time, if any.
    async fn advance(&self, now_ms: i64, purge_before_ms: i64) -> Result<Option<i64>>;
    /// When the next lifecycle step is due (a transition, or a purge given `retention_ms`).
    async fn next_due(&self, retention_ms: i64) -> Result<Option<i64>>;
    /// Take every instance event step due by `now_ms` (`Instance::take_due_events`, the
    /// transitions it starts lasting `delay_ms`): each instance changed is written as any
    /// write is, with its feed entries. Returns when the next event step is due, if any.
    /// A backend keeps each instance's `Instance::next_event_ms` where it can find the due
    /// ones without reading the others.
    async fn take_due_events(&self, now_ms: i64, delay_ms: i64) -> Result<Option<i64>>;
    /// When the next instance event step is due (the least `Instance::next_event_ms`).
    async fn next_event_due(&self) -> Result<Option<i64>>;
    /// When the lifecycle driver's next steps are due, read together (the driver asks after
    /// every commit): what [`InstanceStore::next_due`] and [`InstanceStore::next_event_due`]
    /// say, in one read.
    async fn next_steps(&self, retention_ms: i64) -> Result<NextSteps>;
    /// The metadata host serving these instances has switched to these options generations.
    /// Returns how many instances changed to `applied`.
    async fn mark_applied(&self, applied: &[(String, u64)]) -> Result<usize>;
    /// The metadata host serving these instances now serves these IAM instance profile
    /// associations (instance id, association id): each settles (`associating` →
    /// `associated`, `disassociating` → `disassociated`). Returns the instances that changed.
    async fn settle_associations(&self, settled: &[(String, String)]) -> Result<Vec<Instance>>;
    /// Instances that are running with options not yet applied (for recovery at start).
    async fn pending_applies(&self) -> Result<Vec<(String, u64)>>;
    /// One instance by id, whatever its account and Region (for the metadata hosts).
    async fn instance_by_id(&self, instance_id: &str) -> Result<Option<Instance>>;
    /// Every instance of every account, in launch order, a page at a time (for the metadata
    /// hosts' initial load): the instances after position `after`, and the next position.
    async fn all_instances(&self, after: Option<i64>, limit: u32) -> Result<InstancePage>;
    async fn count_instances(&self) -> Result<u64>;
    /// Every instance of every account, in launch order, a page at a time, as much as the
    /// metadata hosts' initial load keeps of each ([`ServedRecord`]): a backend reads these
    /// without decoding whole documents, so a fleet of a million loads in seconds.
    async fn served_instances(&self, after: Option<i64>, limit: u32) -> Result<ServedPage>;
}

/// What a metadata host keeps of an instance before any request asks for more (the rest is
/// read with [`InstanceStore::instance_by_id`] when needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRecord {
    pub instance_id: String,
    pub scope: Scope,
    pub state: model::InstanceState,
    pub private_ip: Ipv4Addr,
    pub launch_time_ms: i64,
    /// The desired options (`Instance::metadata`).
    pub metadata: model::MetadataOptions,
    pub options_generation: u64,
    pub applied_generation: u64,
    pub applied_metadata: Option<model::MetadataOptions>,
    /// The IAM instance profile association still to settle (`Instance::unsettled_association`).
    pub unsettled_association: Option<String>,
}

impl ServedRecord {
    /// What a host keeps of `i`.
    pub fn of(i: &Instance) -> ServedRecord {
        ServedRecord {
            instance_id: i.instance_id.clone(),
            scope: i.scope.clone(),
            state: i.state,
            private_ip: i.private_ip,
            launch_time_ms: i.launch_time_ms,
            metadata: i.metadata,
            options_generation: i.options_generation,
            applied_generation: i.applied_generation,
            applied_metadata: i.applied_metadata,
            unsettled_association: i.unsettled_association().map(str::to_string),
        }
    }
}

/// A page of [`ServedRecord`]s.
#[derive(Debug, Clone)]
pub struct ServedPage {
    pub records: Vec<ServedRecord>,
    /// Where the next page starts, when there is one.
    pub next: Option<i64>,
}

/// What the store needs to know about a launch before the model builds the instances.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    pub count: u32,
    pub client_token: Option<String>,
    /// The subnet to take addresses from (the caller resolves the default subnet).
    pub subnet_id: String,
    /// An explicit address (only with count 1).
    pub private_ip: Option<Ipv4Addr>,
}

/// Handed to the launch builder inside the write transaction.
#[derive(Debug, Clone)]
pub struct LaunchContext {
    /// One free address per instance, in the subnet asked for.
    pub addresses: Vec<Ipv4Addr>,
    pub defaults: model::AccountDefaults,
}

#[derive(Debug, Clone)]
pub struct LaunchOutcome {
    pub instances: Vec<Instance>,
    /// True when a previous launch with the same client token was returned.
    pub replayed: bool,
}

/// The context a mutation sees.
#[derive(Debug, Clone)]
pub struct MutationContext {
    pub defaults: model::AccountDefaults,
}

/// What one update of instances decides, on the instances as its write read them (`find`,
/// by id, of any scope): the gate, then unknown ids (those not found in `scope`), then the
/// model on a copy of each instance. `(before, after)` of each instance named, in the order
/// named. Both backends' groups of updates decide each of theirs with it (SQLite's writer,
/// `postgres::updates`).
pub(crate) fn decide_update(
    scope: &model::Scope,
    ids: &[String],
    gate: InstanceGate,
    f: &mut InstanceMutation,
    find: impl Fn(&str) -> Option<Instance>,
    defaults: model::AccountDefaults,
) -> crate::Result<Vec<(Instance, Instance)>> {
    let mut found = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    for id in ids {
        match find(id).filter(|i| i.scope == *scope) {
            Some(i) => found.push(i),
            None => missing.push(id.clone()),
        }
    }
    gate(&found)?;
    if !missing.is_empty() {
        return Err(Ec2Error::InvalidInstanceIdNotFound(missing).into());
    }
    let ctx = MutationContext { defaults };
    let mut out = Vec::with_capacity(found.len());
    for before in found {
        let mut after = before.clone();
        f(&mut after, &ctx)?;
        out.push((before, after));
    }
    Ok(out)
}

#[derive(Debug, Clone, Default)]
pub struct InstanceQuery {
    pub ids: Option<Vec<String>>,
    pub filters: Vec<Filter>,
    /// Resume after this position (from the previous page's `next`).
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct InstancePage {
    pub instances: Vec<Instance>,
    /// Where the next page starts, when there is one.
    pub next: Option<i64>,
}

/// When the lifecycle driver's next steps are due ([`InstanceStore::next_steps`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NextSteps {
    /// A lifecycle step: a transition, or a purge ([`next_lifecycle_step`]).
    pub lifecycle: Option<i64>,
    /// An instance event step.
    pub events: Option<i64>,
}

impl NextSteps {
    /// The earlier of the two.
    pub fn first(self) -> Option<i64> {
        self.lifecycle.into_iter().chain(self.events).min()
    }
}

/// When the lifecycle's next step is due: the earliest transition (`next_transition`), or
/// the first moment the instance terminated earliest (`first_terminated`) has been gone
/// longer than `retention_ms`, when it is purged (an instance stays visible while terminated
/// for `retention_ms` at most, as on EC2 for about an hour).
pub fn next_lifecycle_step(
    next_transition: Option<i64>,
    first_terminated: Option<i64>,
    retention_ms: i64,
) -> Option<i64> {
    let purge = first_terminated.map(|t| t + retention_ms + 1);
    match (next_transition, purge) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_step_is_the_earliest_transition_or_purge() {
        assert_eq!(next_lifecycle_step(None, None, 10), None);
        assert_eq!(next_lifecycle_step(Some(5), None, 10), Some(5));
        assert_eq!(
            next_lifecycle_step(None, Some(5), 10),
            Some(16),
            "purged once terminated longer than the retention"
        );
        assert_eq!(next_lifecycle_step(Some(20), Some(5), 10), Some(16));
        assert_eq!(next_lifecycle_step(Some(12), Some(5), 10), Some(12));
    }
}
