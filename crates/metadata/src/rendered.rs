//! What an instance serves beyond its enforcement: its view, category tree, identity document
//! and signatures, rendered on demand from the store's record, and the bounded cache that
//! keeps the instances called lately.
//!
//! The served table keeps per instance only what decides a request's fate (see
//! [`crate::served`]); everything else is rendered here when a request needs it, so memory
//! does not grow with the fleet. A rendering is kept under the version of the table's entry
//! it was made for: the feed installing a new record (or the applier switching options)
//! gives the entry a new version, so an older rendering is never served again.

use crate::identity::IdentitySigner;
use crate::instance_key::InstanceKey;
use crate::tree::{self, Node};
use crate::view::InstanceView;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// One instance rendered: its view (with the options in force), its category tree and
/// identity document.
pub struct Rendered {
    pub view: InstanceView,
    pub tree: Node,
    pub identity_document: Bytes,
    /// `signature` and `pkcs7` of the document, made on first request (an RSA signature each).
    identity_signatures: OnceLock<(Bytes, Bytes)>,
}

impl Rendered {
    /// `view` as the service serves it: its tree and identity document built now.
    pub fn new(view: InstanceView) -> Rendered {
        Rendered {
            tree: tree::meta_data(&view),
            identity_document: Bytes::from(crate::identity::document(&view)),
            identity_signatures: OnceLock::new(),
            view,
        }
    }

    /// `signature` and `pkcs7` of the identity document, signed on first request.
    pub(crate) fn identity_signatures(&self, signer: &IdentitySigner) -> (Bytes, Bytes) {
        self.identity_signatures
            .get_or_init(|| signer.sign_document(&self.identity_document))
            .clone()
    }
}

/// Rendered instances kept at most, by default: a few thousand instances called lately.
pub(crate) const CACHE_CAPACITY: usize = 4096;

/// A bounded cache of rendered instances (CLOCK: each hit marks its slot; a sweep evicts the
/// first slot not marked since the hand last passed, clearing the marks it passes).
pub(crate) struct RenderCache {
    capacity: usize,
    inner: RwLock<Clock>,
}

struct Slot {
    key: InstanceKey,
    version: u64,
    rendered: Arc<Rendered>,
    referenced: AtomicBool,
}

#[derive(Default)]
struct Clock {
    slots: Vec<Option<Slot>>,
    index: HashMap<InstanceKey, usize>,
    free: Vec<usize>,
    hand: usize,
}

impl RenderCache {
    pub(crate) fn new(capacity: usize) -> RenderCache {
        RenderCache {
            capacity: capacity.max(1),
            inner: RwLock::default(),
        }
    }

    /// The rendering of `key` made for `version`, if kept.
    pub(crate) fn get(&self, key: InstanceKey, version: u64) -> Option<Arc<Rendered>> {
        let clock = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let slot = clock.slots[*clock.index.get(&key)?].as_ref()?;
        if slot.version != version {
            return None;
        }
        slot.referenced.store(true, Ordering::Relaxed);
        Some(slot.rendered.clone())
    }

    /// Keep `rendered` as the rendering of `key` at `version` (replacing any other of `key`),
    /// evicting one not used lately when full.
    pub(crate) fn put(&self, key: InstanceKey, version: u64, rendered: Arc<Rendered>) {
        let mut clock = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let slot = Slot {
            key,
            version,
            rendered,
            referenced: AtomicBool::new(false),
        };
        if let Some(&i) = clock.index.get(&key) {
            if clock.slots[i].as_ref().is_some_and(|s| s.version > version) {
                // A rendering of a newer version is kept already.
                return;
            }
            clock.slots[i] = Some(slot);
            return;
        }
        let i = match clock.free.pop() {
            Some(i) => i,
            None if clock.slots.len() < self.capacity => {
                clock.slots.push(None);
                clock.slots.len() - 1
            }
            None => clock.evict(),
        };
        clock.slots[i] = Some(slot);
        clock.index.insert(key, i);
    }

    /// Forget the rendering of `key` (its instance changed or is gone).
    pub(crate) fn invalidate(&self, key: InstanceKey) {
        let mut clock = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = clock.index.remove(&key) {
            clock.slots[i] = None;
            clock.free.push(i);
        }
    }

    /// How many renderings are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let clock = self.inner.read().unwrap_or_else(|e| e.into_inner());
        clock.index.len()
    }
}

impl Clock {
    /// Free the first slot not referenced since the hand last passed it; returns its index.
    fn evict(&mut self) -> usize {
        loop {
            let i = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            match &self.slots[i] {
                Some(s) if s.referenced.swap(false, Ordering::Relaxed) => {}
                Some(s) => {
                    let key = s.key;
                    self.index.remove(&key);
                    self.slots[i] = None;
                    return i;
                }
                None => return i,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(id: &str) -> Arc<Rendered> {
        let mut i = model::testing::instance("t3.micro");
        i.instance_id = id.into();
        Arc::new(Rendered::new(InstanceView::of(&i)))
    }

    fn key(n: u32) -> InstanceKey {
        InstanceKey::parse(&format!("i-{n:017x}")).unwrap()
    }

    #[test]
    fn a_rendering_serves_only_its_version() {
        let cache = RenderCache::new(4);
        cache.put(key(1), 3, rendered("i-00000000000000001"));
        assert!(cache.get(key(1), 3).is_some());
        assert!(cache.get(key(1), 4).is_none(), "a newer entry misses");
        cache.put(key(1), 2, rendered("i-00000000000000001"));
        assert!(
            cache.get(key(1), 3).is_some(),
            "an older rendering never replaces a newer one"
        );
        cache.invalidate(key(1));
        assert!(cache.get(key(1), 3).is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_and_keeps_what_is_used() {
        let cache = RenderCache::new(3);
        let r = rendered("i-00000000000000001");
        for n in 0..3 {
            cache.put(key(n), 1, r.clone());
        }
        assert!(cache.get(key(0), 1).is_some());
        for n in 3..10 {
            cache.put(key(n), 1, r.clone());
            assert!(cache.len() <= 3);
            // Used between each insertion: never the one evicted.
            assert!(cache.get(key(0), 1).is_some(), "at {n}");
        }
        assert_eq!(cache.len(), 3);
    }
}
