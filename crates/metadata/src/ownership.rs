//! Which instances this metadata host applies changes for, when several share one fleet
//! (issue 14: "`pending` → `applied` is acknowledged only by the host that serves the
//! instance now").
//!
//! Every host serves every instance it follows from the feed, with the options the store
//! says are in force; only the instance's owner switches to newly desired options after
//! the apply delay and acknowledges them, and the other hosts switch when the feed brings
//! that acknowledgement. The owner is the rendezvous-hashing winner over the live hosts
//! (`model::placement`); a host that stops renewing its lease drops out of the live set
//! everywhere, and each instance it owned goes to the host that scored next for it.

/// The instances a host owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Every instance: the only host (SQLite; `--role all` alone).
    Every,
    /// None: an API node, which serves what the owning hosts applied.
    Nothing,
    /// One host among the live ones: the instances rendezvous hashing gives `me`.
    Among { me: String, live: Vec<String> },
}

impl Ownership {
    pub fn owns(&self, instance_id: &str) -> bool {
        match self {
            Ownership::Every => true,
            Ownership::Nothing => false,
            Ownership::Among { me, live } => {
                model::placement::owner(instance_id, live).is_some_and(|o| o == me)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two hosts split the instances between them, each owned by exactly one; when one
    /// leaves the live set, the other owns them all.
    #[test]
    fn each_instance_has_one_owner_among_the_live_hosts() {
        let live = vec!["a".to_string(), "b".to_string()];
        let a = Ownership::Among {
            me: "a".into(),
            live: live.clone(),
        };
        let b = Ownership::Among {
            me: "b".into(),
            live,
        };
        let ids: Vec<String> = (0..200).map(|i| format!("i-{i:017x}")).collect();
        let owned_by_a = ids.iter().filter(|id| a.owns(id)).count();
        for id in &ids {
            assert_ne!(a.owns(id), b.owns(id), "{id}: exactly one owner");
        }
        assert!((50..150).contains(&owned_by_a), "{owned_by_a}");
        let alone = Ownership::Among {
            me: "b".into(),
            live: vec!["b".into()],
        };
        assert!(ids.iter().all(|id| alone.owns(id)));
        assert!(ids.iter().all(|id| Ownership::Every.owns(id)));
        assert!(!ids.iter().any(|id| Ownership::Nothing.owns(id)));
    }
}
