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
        let id = new_id("i", 0xdead_beef);
        assert!(is_well_formed(&id, "i"), "{id}");
        assert_eq!(id.len(), 19);
    }
}
