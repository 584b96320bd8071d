//! The served-state table: every instance as the service serves it, by id and by address,
//! and the default instance that loopback callers of no instance get.
//!
//! Requests read it and never wait on the store; the feed follower and the applier write
//! it. The options an instance is served with are those of the higher generation of what is
//! served and what the store has applied: the applier switches an instance *before* the store
//! records it (`applied` follows the switch), so a record written in between, or the echo of
//! the acknowledgement itself, never takes the switch back.

use crate::counters::{Counters, Snapshot};
use crate::identity::IdentitySigner;
use crate::tree::{self, Node};
use crate::view::InstanceView;
use bytes::Bytes;
use model::instance::Instance;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock, RwLock};
use tokio::sync::watch;

/// One instance as the service serves it: its view, its category tree and identity
/// document (built once), its counters.
pub struct Served {
    pub view: InstanceView,
    pub tree: Node,
    pub identity_document: Bytes,
    /// `signature` and `pkcs7` of the document, made on first request (an RSA signature each).
    identity_signatures: OnceLock<(Bytes, Bytes)>,
    pub counters: Arc<Counters>,
}

impl Served {
    /// `view` as the service serves it: its tree and identity document built now.
    pub fn new(view: InstanceView, counters: Arc<Counters>) -> Served {
        Served {
            tree: tree::meta_data(&view),
            identity_document: Bytes::from(crate::identity::document(&view)),
            identity_signatures: OnceLock::new(),
            view,
            counters,
        }
    }

    /// `signature` and `pkcs7` of the identity document, signed on first request.
    pub(crate) fn identity_signatures(&self, signer: &IdentitySigner) -> (Bytes, Bytes) {
        self.identity_signatures
            .get_or_init(|| signer.sign_document(&self.identity_document))
            .clone()
    }
}

#[derive(Default)]
struct State {
    served: HashMap<String, Arc<Served>>,
    by_ip: HashMap<Ipv4Addr, String>,
    /// Order in which instances appeared, for the default instance.
    order: BTreeMap<u64, String>,
    order_of: HashMap<String, u64>,
}

/// Every instance served, by id and by address.
pub(crate) struct ServedTable {
    state: RwLock<State>,
    /// Bumped after every view put or removed, so that what depends on an instance's view
    /// (its loopback endpoint, its IPv6 route) follows it without polling.
    changed: watch::Sender<u64>,
}

impl ServedTable {
    pub(crate) fn new() -> ServedTable {
        ServedTable {
            state: RwLock::default(),
            changed: watch::Sender::new(0),
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
    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<Arc<Served>> {
        let state = self.read();
        let v4 = match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => a
                .to_ipv4_mapped()
                .or_else(|| crate::netns::v4_of_instance_v6(a)),
        };
        if let Some(id) = v4.and_then(|a| state.by_ip.get(&a)) {
            if let Some(s) = state.served.get(id) {
                return Some(s.clone());
            }
        }
        state
            .order
            .values()
            .filter_map(|id| state.served.get(id))
            .find(|s| {
                s.view.account == model::DEFAULT_ACCOUNT
                    && s.view.region == model::DEFAULT_REGION
                    && !s.view.state.is_gone()
            })
            .cloned()
    }

    pub(crate) fn served(&self, instance_id: &str) -> Option<Arc<Served>> {
        self.read().get_served(instance_id)
    }

    /// A receiver that sees a new value after every view was put or removed.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Counters of every instance served, by instance id.
    pub(crate) fn counters(&self) -> Vec<(String, Snapshot)> {
        let state = self.read();
        let mut out: Vec<(String, Snapshot)> = state
            .order
            .values()
            .filter_map(|id| {
                state
                    .served
                    .get(id)
                    .map(|s| (id.clone(), s.counters.snapshot()))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Put (or replace) an instance's view as `i` records it, keeping the options the host
    /// switched to if the store has not recorded them yet. Returns whether anything served
    /// changed (a record that changes nothing served, such as the echo of an
    /// acknowledgement, is not rebuilt).
    pub(crate) fn install(&self, i: &Instance) -> bool {
        let mut view = InstanceView::of(i);
        let mut state = self.write();
        let previous = state.get_served(&i.instance_id);
        if let Some(p) = &previous {
            if p.view.generation > view.generation {
                view.options = p.view.options;
                view.generation = p.view.generation;
            }
            if p.view == view {
                return false;
            }
        }
        state.put(view, previous.map(|p| p.counters.clone()));
        drop(state);
        self.changed.send_modify(|n| *n += 1);
        true
    }

    /// Switch an instance to its desired options of generation `g`, if those are still the
    /// ones desired, not yet in force, and the instance can take them now (it is running).
    /// Returns whether it switched.
    pub(crate) fn switch(&self, instance_id: &str, g: u64) -> bool {
        let mut state = self.write();
        let Some(s) = state.get_served(instance_id) else {
            return false;
        };
        let v = &s.view;
        if !v.can_apply || v.desired_generation != g || v.generation >= g {
            return false;
        }
        let mut view = v.clone();
        view.options = view.desired;
        view.generation = g;
        state.put(view, Some(s.counters.clone()));
        drop(state);
        self.changed.send_modify(|n| *n += 1);
        true
    }

    pub(crate) fn remove(&self, instance_id: &str) {
        let mut state = self.write();
        if let Some(s) = state.served.remove(instance_id) {
            if state.by_ip.get(&s.view.private_ip).map(String::as_str) == Some(instance_id) {
                state.by_ip.remove(&s.view.private_ip);
            }
        }
        if let Some(n) = state.order_of.remove(instance_id) {
            state.order.remove(&n);
        }
        drop(state);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Remove every instance not in `keep` (after a reload from the store).
    pub(crate) fn retain(&self, keep: &HashSet<String>) {
        let gone: Vec<String> = self
            .read()
            .served
            .keys()
            .filter(|id| !keep.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            self.remove(&id);
        }
    }
}

impl State {
    fn get_served(&self, instance_id: &str) -> Option<Arc<Served>> {
        self.served.get(instance_id).cloned()
    }

    /// Serve `view` (with the counters the instance had), indexed by id and address.
    fn put(&mut self, view: InstanceView, counters: Option<Arc<Counters>>) {
        let id = view.instance_id.clone();
        if !self.order_of.contains_key(&id) {
            let n = self.order.keys().next_back().map_or(0, |k| k + 1);
            self.order.insert(n, id.clone());
            self.order_of.insert(id.clone(), n);
        }
        if view.state == model::InstanceState::Terminated {
            if self.by_ip.get(&view.private_ip) == Some(&id) {
                self.by_ip.remove(&view.private_ip);
            }
        } else {
            self.by_ip.insert(view.private_ip, id.clone());
        }
        let served = Served::new(view, counters.unwrap_or_default());
        self.served.insert(id, Arc::new(served));
    }
}
