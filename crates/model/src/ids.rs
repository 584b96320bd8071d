//! Formats of EC2 resource ids: a prefix, a dash, then 8 (older) or 17 lowercase hex digits.
//! New ids are made from random bits the caller supplies (the model does no I/O).

/// Whether `id` is `prefix-` followed by 8 or 17 lowercase hex digits.
pub fn is_well_formed(id: &str, prefix: &str) -> bool {
    let Some(rest) = id.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    (rest.len() == 8 || rest.len() == 17)
        && rest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A new 17-digit id, as EC2 has issued since 2016 (`i-0123456789abcdef0`).
pub fn new_id(prefix: &str, random: u64) -> String {
    format!("{prefix}-0{random:016x}")
}

/// A new 17-digit id ordered by time: the second it was made (24 bits, so the order wraps
/// every 194 days) above 40 bits of `sequence` (the caller's: a random start, then one more
/// per id, so that ids made together never collide). A store keeps an index of instance ids
/// (the lookups by id, the `instance-id` filter); random ids land all over it, each on a
/// page of its own, while ids made together land together. UNCONFIRMED: how EC2 makes its
/// ids is not documented (they look random); these are well-formed ids all the same, and
/// nothing documented reads an order into them.
pub fn time_ordered_id(prefix: &str, now_ms: i64, sequence: u64) -> String {
    let second = (now_ms.max(0) as u64 / 1000) & 0xff_ffff;
    new_id(prefix, second << 40 | (sequence & ((1 << 40) - 1)))
}

pub const INSTANCE: &str = "i";
pub const IMAGE: &str = "ami";
pub const RESERVATION: &str = "r";
pub const LAUNCH_TEMPLATE: &str = "lt";
pub const VOLUME: &str = "vol";
pub const NETWORK_INTERFACE: &str = "eni";
pub const SUBNET: &str = "subnet";
pub const VPC: &str = "vpc";
pub const SECURITY_GROUP: &str = "sg";

/// The resource type of an id, by its prefix (for tags), as DescribeTags names it.
pub fn resource_type(id: &str) -> Option<&'static str> {
    let prefix = id.split('-').next()?;
    Some(match prefix {
        "i" => "instance",
        "ami" => "image",
        "lt" => "launch-template",
        "vol" => "volume",
        "subnet" => "subnet",
        "vpc" => "vpc",
        "sg" => "security-group",
        "eni" => "network-interface",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(is_well_formed("i-0123456789abcdef0", "i"));
        assert!(is_well_formed("i-1234abcd", "i"));
        assert!(!is_well_formed("foo", "i"));
        assert!(!is_well_formed("i-0123456789ABCDEF0", "i"));
        assert!(!is_well_formed("i-0123", "i"));
        assert!(!is_well_formed("ami-0123456789abcdef0", "i"));
        let id = time_ordered_id("i", 1_796_524_209_000, u64::MAX);
        assert!(is_well_formed(&id, "i"), "{id}");
        let id = new_id("i", 0xdead_beef);
        assert!(is_well_formed(&id, "i"), "{id}");
        assert_eq!(id.len(), 19);
    }

    /// Ids made later sort after those made before (within the 194 days the order spans),
    /// and ids made in the same second by one sequence are distinct and in its order.
    #[test]
    fn time_ordered_ids_sort_by_time_then_sequence() {
        let t = 1_796_524_209_000;
        let start = u64::MAX - 2; // the sequence wraps within its 40 bits
        let same: Vec<String> = (0..5)
            .map(|k| time_ordered_id("i", t, start.wrapping_add(k)))
            .collect();
        let distinct: std::collections::HashSet<&String> = same.iter().collect();
        assert_eq!(distinct.len(), 5);
        let later = time_ordered_id("i", t + 1_000, 0);
        assert!(same.iter().all(|id| *id < later), "{same:?} < {later}");
        let earlier = time_ordered_id("i", t - 1_000, u64::MAX);
        assert!(same.iter().all(|id| earlier < *id));
        let ordered = [time_ordered_id("i", t, 7), time_ordered_id("i", t, 8)];
        assert!(ordered[0] < ordered[1]);
    }
}
