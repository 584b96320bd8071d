//! Which metadata host serves an instance when several share one fleet (issue 14):
//! rendezvous hashing (highest random weight) over the hosts alive now.
//!
//! Every node computes the same owner from the same live set, with nothing to coordinate:
//! each host scores each instance, and the highest score owns it. When a host leaves, only
//! its instances move, each to the host that scored next for it; a host that joins takes
//! about `1/n` of the fleet, from every other host alike.
//!
//! The score is a fixed function of the two names, FNV-1a over both then SplitMix64's
//! finalizer (FNV alone leaves similar names with similar high bits). It is written here
//! rather than taken from `std`, whose `DefaultHasher` may change between Rust releases:
//! nodes of different builds must agree on every owner.

/// The score of `host` for `instance_id`.
pub fn weight(host: &str, instance_id: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    // A separator no name holds, so that ("ab", "c") and ("a", "bc") differ.
    for b in host.bytes().chain([0xff]).chain(instance_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    // SplitMix64's finalizer.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The host of `hosts` that serves `instance_id`: the highest [`weight`], ties (never seen;
/// for completeness) to the greater name. `None` when no host is alive.
pub fn owner<'h, H: AsRef<str>>(instance_id: &str, hosts: &'h [H]) -> Option<&'h H> {
    hosts.iter().max_by(|a, b| {
        let (a, b) = (a.as_ref(), b.as_ref());
        (weight(a, instance_id), a).cmp(&(weight(b, instance_id), b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("i-{:017x}", 0x1000 + i)).collect()
    }

    /// The function is fixed: these values are what every build must compute (a change
    /// here would move instances between hosts of different versions).
    #[test]
    fn the_weight_is_fixed() {
        // Computed by an implementation of its own (Python) from the definition above.
        assert_eq!(weight("", ""), 0x4f2d_b50f_1240_40cd);
        assert_eq!(
            weight("host-a", "i-0000000000000001"),
            0x44c2_c17c_f366_f74b
        );
        assert_ne!(weight("ab", "c"), weight("a", "bc"));
        assert_ne!(weight("host-a", "i-1"), weight("host-b", "i-1"));
    }

    #[test]
    fn no_host_owns_nothing() {
        let none: [&str; 0] = [];
        assert_eq!(owner("i-1", &none), None);
        assert_eq!(owner("i-1", &["only"]), Some(&"only"));
    }

    /// Four hosts share 20,000 instances within 10% of a quarter each, whatever the order
    /// the live set is listed in.
    #[test]
    fn hosts_share_the_fleet_evenly() {
        let hosts = ["host-a", "host-b", "host-c", "host-d"];
        let reversed = ["host-d", "host-c", "host-b", "host-a"];
        let mut count: HashMap<&str, usize> = HashMap::new();
        for id in ids(20_000) {
            let o = *owner(&id, &hosts).unwrap();
            assert_eq!(Some(&o), owner(&id, &reversed), "the order does not matter");
            *count.entry(o).or_default() += 1;
        }
        for h in hosts {
            let n = count[h];
            assert!((4_500..=5_500).contains(&n), "{h}: {n}");
        }
    }

    /// A host that leaves loses exactly its instances, the others keep theirs; a host that
    /// joins takes instances only, about a fifth, and from every host.
    #[test]
    fn only_the_leaving_hosts_instances_move() {
        let four = ["host-a", "host-b", "host-c", "host-d"];
        let three = ["host-a", "host-b", "host-d"];
        let five = ["host-a", "host-b", "host-c", "host-d", "host-e"];
        let mut taken_from: HashMap<&str, usize> = HashMap::new();
        for id in ids(10_000) {
            let before = *owner(&id, &four).unwrap();
            let after = *owner(&id, &three).unwrap();
            if before == "host-c" {
                assert_ne!(after, "host-c");
            } else {
                assert_eq!(before, after, "{id} moved off a host that stayed");
            }
            let joined = *owner(&id, &five).unwrap();
            if joined != before {
                assert_eq!(joined, "host-e", "{id} moved between old hosts");
                *taken_from.entry(before).or_default() += 1;
            }
        }
        let taken: usize = taken_from.values().sum();
        assert!(
            (1_700..=2_300).contains(&taken),
            "the new host took {taken}"
        );
        assert_eq!(taken_from.len(), 4, "from every host: {taken_from:?}");
    }
}
