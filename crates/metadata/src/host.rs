//! The metadata host: every instance's view in memory, kept current from the change feed.
//!
//! `pending` → `applied` is real here: when the feed says an instance's desired options
//! changed (or a stopped instance with pending options started), the host waits
//! `apply_delay`, switches the in-memory options of that instance, and only then acknowledges
//! the generation to the store, which then reads `applied`. Until the switch, the previous
//! options stay in force (spec imds.md §11).
//!
//! IAM instance profile associations settle the same way: `apply_delay` after an association
//! is made, replaced or removed, the host asks the store to settle it (`associating` →
//! `associated`, `disassociating` → `disassociated`) and serves the settled record at once:
//! from then on `iam/` carries the new role (or is gone).

use crate::counters::{Counters, Snapshot};
use crate::service::CredentialRequest;
use crate::token::TokenKey;
use crate::tree::{self, Node};
use crate::view::InstanceView;
use bytes::Bytes;
use model::instance::Instance;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use store::{ChangeKind, Store};
use tokio::sync::watch;

/// One instance as the service serves it: its view, its category tree and identity
/// document (built once), its counters.
pub struct Served {
    pub view: InstanceView,
    pub tree: Node,
    pub identity_document: Bytes,
    /// `signature` and `pkcs7` of the document, made on first request (an RSA signature each).
    pub identity_signatures: std::sync::OnceLock<(Bytes, Bytes)>,
    pub counters: Arc<Counters>,
}

impl Served {
    /// `view` as the service serves it: its tree and identity document built now.
    pub fn new(view: InstanceView, counters: Arc<Counters>) -> Served {
        Served {
            tree: tree::meta_data(&view),
            identity_document: Bytes::from(identity_document(&view)),
            identity_signatures: std::sync::OnceLock::new(),
            view,
            counters,
        }
    }
}

/// `dynamic/instance-identity/document`: 2-space indent, `" : "`, EC2's key order, JSON
/// nulls for what does not apply (spec imds.md §12).
pub fn identity_document(v: &InstanceView) -> String {
    let s = |x: &str| serde_json::Value::String(x.to_string()).to_string();
    format!(
        "{{\n  \"accountId\" : {},\n  \"architecture\" : {},\n  \"availabilityZone\" : {},\n  \"billingProducts\" : null,\n  \"devpayProductCodes\" : null,\n  \"marketplaceProductCodes\" : null,\n  \"imageId\" : {},\n  \"instanceId\" : {},\n  \"instanceType\" : {},\n  \"kernelId\" : null,\n  \"pendingTime\" : {},\n  \"privateIp\" : {},\n  \"ramdiskId\" : null,\n  \"region\" : {},\n  \"version\" : \"2017-09-30\"\n}}",
        s(&v.account),
        s(v.architecture),
        s(&v.availability_zone),
        s(&v.image_id),
        s(&v.instance_id),
        s(&v.instance_type),
        s(&iso_seconds(v.launch_time_ms)),
        s(&v.private_ip.to_string()),
        s(&v.region),
    )
}

/// `2026-11-22T17:00:00Z`.
pub fn iso_seconds(ms: i64) -> String {
    model::instance::iso8601(ms, false)
}

/// Credentials are renewed every hour and live six hours, so new ones are always served well
/// before the old ones expire (EC2: at least five minutes before).
const ROTATE_MS: i64 = 3_600_000;
const LIFETIME_MS: i64 = 6 * 3_600_000;

#[derive(Default)]
struct State {
    served: HashMap<String, Arc<Served>>,
    by_ip: HashMap<Ipv4Addr, String>,
    /// Order in which instances appeared, for the default instance.
    order: BTreeMap<u64, String>,
    order_of: HashMap<String, u64>,
    /// Generations switched in memory whose acknowledgement is in flight.
    switched: HashMap<String, u64>,
}

pub struct Host {
    store: Arc<dyn Store>,
    identity: Arc<crate::identity::IdentitySigner>,
    apply_delay: Duration,
    pub tokens: TokenKey,
    /// Mints role credentials whose session token carries their claims (instance, role,
    /// delivery), so the API verifies them without asking this host, even after a restart.
    sessions: Arc<iam::session::SessionKey>,
    state: RwLock<State>,
    /// Whether every instance of the store has been loaded (until then an address is not
    /// yet known to belong to its instance).
    loaded: watch::Sender<bool>,
    /// Bumped after every view put or removed, so that what depends on an instance's view
    /// (its loopback endpoint, its IPv6 route) follows it without polling.
    changed: watch::Sender<u64>,
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
            sessions,
            state: RwLock::new(State::default()),
            loaded: watch::Sender::new(false),
            changed: watch::Sender::new(0),
        })
    }

    /// The instance a connection from `ip` belongs to; an address of no instance is served as
    /// the default instance (the first instance of the default account and Region).
    pub fn lookup(&self, ip: IpAddr) -> Option<Arc<Served>> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
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

    /// A receiver that sees a new value after every view was put or removed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn served(&self, instance_id: &str) -> Option<Arc<Served>> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.served.get(instance_id).cloned()
    }

    /// Counters of every instance served.
    pub fn counters(&self) -> Vec<(String, Snapshot)> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
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

    /// Put (or replace) an instance's view. `desired` switches to the desired options.
    fn install(&self, i: &Instance, desired: bool) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let mut view = InstanceView::of(i);
        let switched = state.switched.get(&i.instance_id).copied();
        if desired || switched == Some(i.options_generation) {
            view.options = i.metadata;
            view.generation = i.options_generation;
        }
        if switched.is_some_and(|g| i.applied_generation >= g) {
            state.switched.remove(&i.instance_id);
        }
        let counters = state
            .served
            .get(&i.instance_id)
            .map(|s| s.counters.clone())
            .unwrap_or_default();
        if !state.order_of.contains_key(&i.instance_id) {
            let n = state.order.keys().next_back().map_or(0, |k| k + 1);
            state.order.insert(n, i.instance_id.clone());
            state.order_of.insert(i.instance_id.clone(), n);
        }
        if view.state.is_gone() && view.state == model::InstanceState::Terminated {
            if state.by_ip.get(&view.private_ip) == Some(&i.instance_id) {
                state.by_ip.remove(&view.private_ip);
            }
        } else {
            state.by_ip.insert(view.private_ip, i.instance_id.clone());
        }
        state
            .served
            .insert(i.instance_id.clone(), Arc::new(Served::new(view, counters)));
        drop(state);
        self.changed.send_modify(|n| *n += 1);
    }

    fn remove(&self, id: &str) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = state.served.remove(id) {
            if state.by_ip.get(&s.view.private_ip).map(String::as_str) == Some(id) {
                state.by_ip.remove(&s.view.private_ip);
            }
        }
        if let Some(n) = state.order_of.remove(id) {
            state.order.remove(&n);
        }
        state.switched.remove(id);
        drop(state);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Role credentials (and `iam/info`) for an instance, as EC2 formats them.
    pub fn credentials(&self, v: &InstanceView, req: CredentialRequest<'_>, now_ms: i64) -> Bytes {
        let epoch = now_ms.div_euclid(ROTATE_MS);
        let updated = iso_seconds(epoch * ROTATE_MS);
        let profile = v.iam_profile.as_ref();
        match req {
            CredentialRequest::IdentityInfo => Bytes::from(format!(
                "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"{updated}\",\n  \"AccountId\" : \"{}\"\n}}",
                v.account
            )),
            CredentialRequest::Info => {
                let Some(profile) = profile else {
                    return Bytes::new();
                };
                Bytes::from(format!(
                "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"{updated}\",\n  \"InstanceProfileArn\" : \"{}\",\n  \"InstanceProfileId\" : \"{}\"\n}}",
                profile.arn, profile.id
            ))
            }
            CredentialRequest::Role { name, v2 } => {
                let c = self.issue(v, name, v2, epoch);
                Bytes::from(format!(
                    "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"{updated}\",\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"{}\",\n  \"SecretAccessKey\" : \"{}\",\n  \"Token\" : \"{}\",\n  \"Expiration\" : \"{}\"\n}}",
                    c.access_key_id, c.secret_access_key, c.session_token, iso_seconds(c.expires_ms)
                ))
            }
        }
    }

    /// The credentials of (instance, role, delivery, hour): the same all hour, living six
    /// hours, and carrying how they were delivered (`ec2:RoleDelivery`).
    fn issue(
        &self,
        v: &InstanceView,
        role: &str,
        v2: bool,
        epoch: i64,
    ) -> iam::session::TemporaryCredentials {
        let claims = iam::session::SessionClaims {
            account: v.account.clone(),
            role: role.to_string(),
            role_path: "/".into(),
            session: v.instance_id.clone(),
            expires_ms: epoch * ROTATE_MS + LIFETIME_MS,
            policy: None,
            instance: Some(iam::session::InstanceClaim {
                instance_id: v.instance_id.clone(),
                region: v.region.clone(),
                delivery: if v2 { "2.0" } else { "1.0" }.into(),
            }),
            nonce: format!("{epoch}-{}", v.launch_time_ms),
        };
        self.sessions.mint(&claims)
    }

    /// `signature` and `pkcs7` of an instance's identity document.
    pub fn identity_signatures(&self, served: &Served) -> (Bytes, Bytes) {
        served
            .identity_signatures
            .get_or_init(|| {
                let doc = &served.identity_document;
                let pkcs7 = self.identity.pkcs7(doc).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "cannot sign an identity document");
                    String::new()
                });
                (
                    Bytes::from(self.identity.signature(doc)),
                    Bytes::from(pkcs7),
                )
            })
            .clone()
    }

    /// Wait until [`Host::run`] has loaded every instance the store had when it started: a
    /// server announces itself ready only then.
    pub async fn loaded(&self) {
        let _ = self.loaded.subscribe().wait_for(|done| *done).await;
    }

    /// Load every instance, then follow the feed until shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let delay_ms = self.apply_delay.as_millis() as i64;
        let mut feed = self.store.watch();
        let mut cursor = *feed.borrow_and_update();
        let mut queue: BinaryHeap<Reverse<(i64, String, u64)>> = BinaryHeap::new();
        // Associations to settle: (due, instance id, association id).
        let mut settle: BinaryHeap<Reverse<(i64, String, String)>> = BinaryHeap::new();
        let mut after = None;
        loop {
            match self.store.all_instances(after, 1000).await {
                Ok(page) => {
                    let now = store::now_ms();
                    for i in &page.instances {
                        self.install(i, false);
                        if let Some(a) = i.unsettled_association() {
                            settle.push(Reverse((
                                now + delay_ms,
                                i.instance_id.clone(),
                                a.to_string(),
                            )));
                        }
                        if i.applied_generation < i.options_generation && i.can_apply() {
                            queue.push(Reverse((
                                now + delay_ms,
                                i.instance_id.clone(),
                                i.options_generation,
                            )));
                        }
                    }
                    match page.next {
                        Some(n) => after = Some(n),
                        None => break,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "metadata host: cannot load instances; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        self.loaded.send_replace(true);
        loop {
            let now = store::now_ms();
            let mut due = Vec::new();
            while queue.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
                if let Some(Reverse((_, id, g))) = queue.pop() {
                    due.push((id, g));
                }
            }
            if !due.is_empty() {
                self.apply(due).await;
            }
            let mut settling = Vec::new();
            while settle.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
                if let Some(Reverse((_, id, a))) = settle.pop() {
                    settling.push((id, a));
                }
            }
            if !settling.is_empty() {
                self.settle(settling).await;
            }
            let next = [
                queue.peek().map(|Reverse((at, _, _))| *at),
                settle.peek().map(|Reverse((at, _, _))| *at),
            ]
            .into_iter()
            .flatten()
            .min();
            let wait = next
                .map(|at| Duration::from_millis((at - now).clamp(1, 60_000) as u64))
                .unwrap_or(Duration::from_secs(60));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                r = feed.changed() => {
                    if r.is_err() { return; }
                    let latest = *feed.borrow_and_update();
                    while cursor < latest {
                        let changes = match self.store.changes_after(cursor, 1000).await {
                            Ok(c) => c,
                            Err(e) => {
                                tracing::error!(error = %e, "metadata host: cannot read the change feed");
                                break;
                            }
                        };
                        if changes.is_empty() {
                            break;
                        }
                        for c in changes {
                            cursor = c.seq;
                            if c.kind == ChangeKind::Purged {
                                self.remove(&c.instance_id);
                                continue;
                            }
                            match self.store.instance_by_id(&c.instance_id).await {
                                Ok(Some(i)) => {
                                    self.install(&i, false);
                                    if matches!(c.kind, ChangeKind::Launched | ChangeKind::OptionsChanged | ChangeKind::Started)
                                        && i.applied_generation < i.options_generation
                                    {
                                        queue.push(Reverse((c.at_ms + delay_ms, i.instance_id.clone(), i.options_generation)));
                                    }
                                    if matches!(c.kind, ChangeKind::Launched | ChangeKind::ProfileChanged) {
                                        if let Some(a) = i.unsettled_association() {
                                            settle.push(Reverse((c.at_ms + delay_ms, i.instance_id.clone(), a.to_string())));
                                        }
                                    }
                                }
                                Ok(None) => self.remove(&c.instance_id),
                                Err(e) => tracing::error!(error = %e, "metadata host: cannot read an instance"),
                            }
                        }
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Settle each association in the store, then serve the settled records (the role of a
    /// settled association, or none once disassociated).
    async fn settle(&self, due: Vec<(String, String)>) {
        match self.store.settle_associations(&due).await {
            Ok(settled) => {
                for i in &settled {
                    self.install(i, false);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "metadata host: cannot settle profile associations")
            }
        }
    }

    /// Switch each instance to its desired options in memory, then acknowledge.
    async fn apply(&self, due: Vec<(String, u64)>) {
        let mut acks = Vec::new();
        for (id, g) in due {
            match self.store.instance_by_id(&id).await {
                Ok(Some(i))
                    if i.can_apply() && i.options_generation == g && i.applied_generation < g =>
                {
                    {
                        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
                        state.switched.insert(id.clone(), g);
                    }
                    self.install(&i, true);
                    acks.push((id, g));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "metadata host: cannot read an instance to apply")
                }
            }
        }
        if !acks.is_empty() {
            if let Err(e) = self.store.mark_applied(&acks).await {
                tracing::error!(error = %e, "metadata host: cannot acknowledge applied options");
            }
        }
    }
}
