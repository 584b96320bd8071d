//! The served-state table: per instance, only what decides a request before anything is
//! rendered (the compact [`Served`] entry), by id and by address, and the default instance
//! that loopback callers of no instance get.
//!
//! Requests read it and never wait on the store to be refused or given a token: whether the
//! endpoint is on (403), whether a token is required (401), the token's TTL and the hop limit
//! of its reply are all in the entry. What a request then reads (the category tree, user
//! data, the identity document, role credentials) is rendered on demand from the store's
//! record into a bounded cache ([`crate::rendered`]), under the entry's version. Counters exist
//! only for instances that were called.
//!
//! The options an instance is served with are those of the higher generation of what is
//! served and what the store has applied: the applier switches an instance *before* the store
//! records it (`applied` follows the switch), so a record written in between, or the echo of
//! the acknowledgement itself, never takes the switch back.

use crate::counters::{Counters, InstanceMinutes, Snapshot};
use crate::instance_key::InstanceKey;
use crate::rendered::{RenderCache, Rendered};
use model::instance::Instance;
use model::{InstanceState, MetadataOptions, Scope};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, RwLock};
use store::instances::ServedRecord;
use tokio::sync::watch;

/// An interned (account, Region): the index of the scope in the table's list of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScopeId(u32);

/// One instance as the table serves it: everything a request's fate depends on before
/// anything is rendered, and no string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    pub key: InstanceKey,
    pub scope: ScopeId,
    pub private_ip: Ipv4Addr,
    pub state: InstanceState,
    /// The options enforced now.
    pub options: MetadataOptions,
    /// The options of the generation the API last asked for, which the host switches to once
    /// it applies them.
    pub desired: MetadataOptions,
    /// Whether the host may switch to the desired options now (`Instance::can_apply`).
    pub can_apply: bool,
    /// The generation of `options`.
    pub generation: u64,
    /// The generation the API last asked for.
    pub desired_generation: u64,
    /// The instance's boot, which its tokens are bound to.
    pub launch_time_ms: i64,
    /// When the table first served it (launch order at load), for the default instance.
    order: u64,
    /// Changes whenever what the instance serves may have changed: the rendering kept for
    /// another version is not served.
    pub version: u64,
}

/// What the table takes from a record of an instance (whole, or its compact columns).
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    pub instance_id: &'a str,
    pub scope: &'a Scope,
    pub private_ip: Ipv4Addr,
    pub state: InstanceState,
    pub launch_time_ms: i64,
    pub in_force: MetadataOptions,
    pub applied_generation: u64,
    pub desired: MetadataOptions,
    pub options_generation: u64,
}

impl<'a> Facts<'a> {
    pub(crate) fn of(i: &'a Instance) -> Facts<'a> {
        Facts {
            instance_id: &i.instance_id,
            scope: &i.scope,
            private_ip: i.private_ip,
            state: i.state,
            launch_time_ms: i.launch_time_ms,
            in_force: i.options_in_force(),
            applied_generation: i.applied_generation,
            desired: i.metadata,
            options_generation: i.options_generation,
        }
    }

    /// What the table takes of a [`ServedRecord`] (the host's load, and the change feed).
    pub(crate) fn of_record(r: &'a ServedRecord) -> Facts<'a> {
        Facts {
            instance_id: &r.instance_id,
            scope: &r.scope,
            private_ip: r.private_ip,
            state: r.state,
            launch_time_ms: r.launch_time_ms,
            in_force: model::instance::in_force(r.applied_metadata, r.metadata),
            applied_generation: r.applied_generation,
            desired: r.metadata,
            options_generation: r.options_generation,
        }
    }
}

#[derive(Default)]
struct State {
    served: HashMap<InstanceKey, Served>,
    by_ip: HashMap<Ipv4Addr, InstanceKey>,
    /// Instances of the default account and Region not shutting down or terminated, by
    /// order: the first is the default instance.
    defaults: BTreeMap<u64, InstanceKey>,
    scope_ids: HashMap<Scope, ScopeId>,
    /// The scopes interned, by [`ScopeId`].
    scopes: Vec<Scope>,
    default_scope: Option<ScopeId>,
    next_order: u64,
    next_version: u64,
}

/// Every instance served, by id and by address.
pub(crate) struct ServedTable {
    state: RwLock<State>,
    /// Renderings of the instances called lately.
    cache: RenderCache,
    /// Counters of the instances that were called.
    counters: RwLock<HashMap<InstanceKey, Arc<Counters>>>,
    /// Followers of one instance (its loopback endpoint): each sees the instance's entry
    /// after every change to it, `None` once it is no longer served.
    watchers: Mutex<HashMap<InstanceKey, watch::Sender<Option<Served>>>>,
}

impl ServedTable {
    pub(crate) fn new() -> ServedTable {
        ServedTable::with_cache(crate::rendered::CACHE_CAPACITY)
    }

    /// A table keeping at most `capacity` rendered instances.
    pub(crate) fn with_cache(capacity: usize) -> ServedTable {
        ServedTable {
            state: RwLock::default(),
            cache: RenderCache::new(capacity),
            counters: RwLock::default(),
            watchers: Mutex::default(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The instance a connection from `ip` belongs to; an address of no instance is served as
    /// the default instance (the first instance of the default account and Region).
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<Served> {
        let state = self.read();
        let v4 = match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => a
                .to_ipv4_mapped()
                .or_else(|| crate::netns::v4_of_instance_v6(a)),
        };
        if let Some(key) = v4.and_then(|a| state.by_ip.get(&a)) {
            if let Some(s) = state.served.get(key) {
                return Some(*s);
            }
        }
        let first = state.defaults.values().next()?;
        state.served.get(first).copied()
    }

    pub(crate) fn served(&self, instance_id: &str) -> Option<Served> {
        let key = InstanceKey::parse(instance_id)?;
        self.read().served.get(&key).copied()
    }

    /// Whether no instance is served.
    pub(crate) fn is_empty(&self) -> bool {
        self.read().served.is_empty()
    }

    /// How many instances are served.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.read().served.len()
    }

    /// The rendering of `s` kept for its version, if any.
    pub(crate) fn cached(&self, s: &Served) -> Option<Arc<Rendered>> {
        self.cache.get(s.key, s.version)
    }

    /// Keep the rendering of `s` (made for its version).
    pub(crate) fn keep_rendered(&self, s: &Served, rendered: Arc<Rendered>) {
        self.cache.put(s.key, s.version, rendered);
    }

    /// How many renderings are kept.
    #[cfg(test)]
    pub(crate) fn rendered_len(&self) -> usize {
        self.cache.len()
    }

    /// The counters of `key`, made on its first call.
    pub(crate) fn counters_of(&self, key: InstanceKey) -> Arc<Counters> {
        if let Some(c) = self
            .counters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return c.clone();
        }
        self.counters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone()
    }

    /// The counts of the calls attributed to their process, per instance called.
    pub(crate) fn call_counts(&self) -> Vec<(String, crate::callers::CommandCounts)> {
        let counters = self.counters.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = counters
            .iter()
            .map(|(k, c)| (k.id(), c.calls.counts()))
            .filter(|(_, c)| !c.is_empty())
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Counters of every instance called, by instance id.
    pub(crate) fn counters(&self) -> Vec<(String, Snapshot)> {
        let counters = self.counters.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, Snapshot)> = counters
            .iter()
            .map(|(k, c)| (k.id(), c.snapshot()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The minutes of every instance called and still served, with its account and Region
    /// (what CloudWatch's `AWS/EC2` metrics are read from), by instance id.
    pub(crate) fn metric_minutes(&self) -> Vec<InstanceMinutes> {
        // The counters are taken before the state is read: no lock is held inside the other.
        let called: Vec<(InstanceKey, Arc<Counters>)> = self
            .counters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, c)| (*k, c.clone()))
            .collect();
        let state = self.read();
        let mut out: Vec<InstanceMinutes> = called
            .into_iter()
            .filter_map(|(key, c)| {
                let served = state.served.get(&key)?;
                let scope = &state.scopes[served.scope.0 as usize];
                Some(InstanceMinutes {
                    instance_id: key.id(),
                    account: scope.account.clone(),
                    region: scope.region.clone(),
                    minutes: c.minutes(),
                })
            })
            .collect();
        drop(state);
        out.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        out
    }

    /// A receiver of `instance_id`'s entry after every change to it (`None` once it is no
    /// longer served, or when no instance can have that id).
    pub(crate) fn watch(&self, instance_id: &str) -> watch::Receiver<Option<Served>> {
        let Some(key) = InstanceKey::parse(instance_id) else {
            return watch::Sender::new(None).subscribe();
        };
        let mut watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        watchers.retain(|_, w| w.receiver_count() > 0);
        // Read under the watchers' lock: a change made meanwhile is sent after this.
        let current = self.read().served.get(&key).copied();
        watchers
            .entry(key)
            .or_insert_with(|| watch::Sender::new(current))
            .subscribe()
    }

    fn notify(&self, key: InstanceKey, entry: Option<Served>) {
        let mut watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = watchers.get(&key) {
            if w.receiver_count() == 0 {
                watchers.remove(&key);
            } else {
                w.send_replace(entry);
            }
        }
    }

    /// Put (or replace) an instance as `i` records it, keeping the options the host switched
    /// to if the store has not recorded them yet. Returns whether it is served.
    pub(crate) fn install(&self, i: &Instance) -> bool {
        self.install_facts(&Facts::of(i))
    }

    /// [`ServedTable::install`] from what the table takes of a record.
    pub(crate) fn install_facts(&self, f: &Facts<'_>) -> bool {
        let Some(key) = InstanceKey::parse(f.instance_id) else {
            tracing::warn!(instance = %f.instance_id, "metadata host: not an instance id; not served");
            return false;
        };
        let mut state = self.write();
        let scope = state.intern(f.scope);
        let mut entry = Served {
            key,
            scope,
            private_ip: f.private_ip,
            state: f.state,
            options: f.in_force,
            desired: f.desired,
            can_apply: f.state == InstanceState::Running,
            generation: f.applied_generation,
            desired_generation: f.options_generation,
            launch_time_ms: f.launch_time_ms,
            order: 0,
            version: 0,
        };
        match state.served.get(&key) {
            Some(p) => {
                if p.generation > entry.generation {
                    entry.options = p.options;
                    entry.generation = p.generation;
                }
                entry.order = p.order;
                if p.private_ip != entry.private_ip && state.by_ip.get(&p.private_ip) == Some(&key)
                {
                    let old = p.private_ip;
                    state.by_ip.remove(&old);
                }
            }
            None => {
                entry.order = state.next_order;
                state.next_order += 1;
            }
        }
        state.put(entry);
        let entry = state.served.get(&key).copied();
        drop(state);
        self.cache.invalidate(key);
        self.notify(key, entry);
        true
    }

    /// Switch an instance to its desired options of generation `g`, if those are still the
    /// ones desired, not yet in force, and the instance can take them now (it is running).
    /// Returns whether it switched.
    pub(crate) fn switch(&self, instance_id: &str, g: u64) -> bool {
        let Some(key) = InstanceKey::parse(instance_id) else {
            return false;
        };
        let mut state = self.write();
        let Some(&s) = state.served.get(&key) else {
            return false;
        };
        if !s.can_apply || s.desired_generation != g || s.generation >= g {
            return false;
        }
        let mut entry = s;
        entry.options = entry.desired;
        entry.generation = g;
        state.put(entry);
        let entry = state.served.get(&key).copied();
        drop(state);
        self.cache.invalidate(key);
        self.notify(key, entry);
        true
    }

    pub(crate) fn remove(&self, instance_id: &str) {
        if let Some(key) = InstanceKey::parse(instance_id) {
            self.remove_key(key);
        }
    }

    fn remove_key(&self, key: InstanceKey) {
        let mut state = self.write();
        if let Some(s) = state.served.remove(&key) {
            if state.by_ip.get(&s.private_ip) == Some(&key) {
                state.by_ip.remove(&s.private_ip);
            }
            state.defaults.remove(&s.order);
        }
        drop(state);
        self.cache.invalidate(key);
        self.counters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        self.notify(key, None);
    }

    /// Remove every instance not in `keep` (after a reload from the store).
    pub(crate) fn retain(&self, keep: &HashSet<InstanceKey>) {
        let gone: Vec<InstanceKey> = self
            .read()
            .served
            .keys()
            .filter(|k| !keep.contains(*k))
            .copied()
            .collect();
        for key in gone {
            self.remove_key(key);
        }
    }

    /// Let the indexes go of the room a load grew them by beyond what they hold.
    pub(crate) fn shrink(&self) {
        let mut state = self.write();
        state.served.shrink_to_fit();
        state.by_ip.shrink_to_fit();
    }
}

impl State {
    fn intern(&mut self, scope: &Scope) -> ScopeId {
        if let Some(id) = self.scope_ids.get(scope) {
            return *id;
        }
        let id = ScopeId(self.scopes.len() as u32);
        self.scope_ids.insert(scope.clone(), id);
        self.scopes.push(scope.clone());
        if scope.account == model::DEFAULT_ACCOUNT && scope.region == model::DEFAULT_REGION {
            self.default_scope = Some(id);
        }
        id
    }

    /// Serve `entry` under a new version, indexed by id, address and (for the default scope)
    /// order.
    fn put(&mut self, mut entry: Served) {
        self.next_version += 1;
        entry.version = self.next_version;
        let key = entry.key;
        if entry.state == InstanceState::Terminated {
            if self.by_ip.get(&entry.private_ip) == Some(&key) {
                self.by_ip.remove(&entry.private_ip);
            }
        } else {
            self.by_ip.insert(entry.private_ip, key);
        }
        if Some(entry.scope) == self.default_scope && !entry.state.is_gone() {
            self.defaults.insert(entry.order, key);
        } else {
            self.defaults.remove(&entry.order);
        }
        self.served.insert(key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory shape (issue 13): an entry is a few dozen bytes, with no string, tree or
    /// document in it.
    #[test]
    fn an_entry_stays_small() {
        assert!(
            std::mem::size_of::<Served>() <= 80,
            "{}",
            std::mem::size_of::<Served>()
        );
        assert!(std::mem::size_of::<(InstanceKey, Served)>() <= 96);
    }

    fn instance(n: u32) -> Instance {
        let mut i = model::testing::instance("t3.micro");
        i.instance_id = format!("i-{n:017x}");
        i.private_ip = Ipv4Addr::from(0x0a00_0000 + n);
        i.state = InstanceState::Running;
        i
    }

    #[test]
    fn the_default_instance_is_the_first_live_one_of_the_default_scope() {
        let t = ServedTable::new();
        let mut other = instance(1);
        other.scope = Scope::new("111111111111", model::DEFAULT_REGION);
        let (mut a, b) = (instance(2), instance(3));
        for i in [&other, &a, &b] {
            t.install(i);
        }
        let unknown: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(t.lookup(unknown).unwrap().key.id(), a.instance_id);
        a.state = InstanceState::Terminated;
        t.install(&a);
        assert_eq!(t.lookup(unknown).unwrap().key.id(), b.instance_id);
        t.remove(&b.instance_id);
        assert_eq!(t.lookup(unknown), None);
        let by_ip = t.lookup(IpAddr::V4(other.private_ip)).unwrap();
        assert_eq!(by_ip.key.id(), other.instance_id);
    }

    #[test]
    fn counters_exist_only_for_instances_called() {
        let t = ServedTable::new();
        for n in 0..100 {
            t.install(&instance(n));
        }
        assert!(t.counters().is_empty());
        let s = t.served(&instance(7).instance_id).unwrap();
        t.counters_of(s.key).request(0);
        let c = t.counters();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].0, instance(7).instance_id);
        t.remove(&instance(7).instance_id);
        assert!(t.counters().is_empty(), "purged with the instance");
    }

    #[test]
    fn metric_minutes_are_those_of_instances_called_and_served() {
        const T11: i64 = 1_768_474_800_000;
        let t = ServedTable::new();
        let (mut a, b, c) = (instance(3), instance(1), instance(2));
        a.scope = Scope::new("111111111111", "eu-west-1");
        for i in [&a, &b, &c] {
            t.install(i);
        }
        let counters = |i: &Instance| t.counters_of(t.served(&i.instance_id).unwrap().key);
        counters(&a).request(T11 + 1_000);
        counters(&a).no_token(T11 + 2_000);
        counters(&b).request(T11 + 61_000);
        let m = t.metric_minutes();
        let ids: Vec<&str> = m.iter().map(|m| m.instance_id.as_str()).collect();
        assert_eq!(
            ids,
            [&b.instance_id, &a.instance_id],
            "by id; c was not called"
        );
        assert_eq!(
            m[1],
            InstanceMinutes {
                instance_id: a.instance_id.clone(),
                account: "111111111111".into(),
                region: "eu-west-1".into(),
                minutes: vec![model::metrics::Minute {
                    start_ms: T11,
                    requests: 1,
                    no_token: 1,
                    no_token_rejected: 0,
                }],
            }
        );
        assert_eq!(
            (m[0].account.as_str(), m[0].region.as_str()),
            (model::DEFAULT_ACCOUNT, model::DEFAULT_REGION)
        );
        assert_eq!(m[0].minutes[0].start_ms, T11 + 60_000);
        t.remove(&a.instance_id);
        let m = t.metric_minutes();
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].instance_id, b.instance_id,
            "a removed instance is gone"
        );
    }

    #[tokio::test]
    async fn a_watcher_sees_only_its_instance() {
        let t = ServedTable::new();
        let (a, b) = (instance(1), instance(2));
        t.install(&a);
        t.install(&b);
        let mut w = t.watch(&a.instance_id);
        assert_eq!(w.borrow_and_update().unwrap().key.id(), a.instance_id);
        t.install(&b);
        assert!(!w.has_changed().unwrap(), "another instance's change");
        t.install(&a);
        assert!(w.has_changed().unwrap());
        t.remove(&a.instance_id);
        assert_eq!(*w.borrow_and_update(), None);
    }
}
