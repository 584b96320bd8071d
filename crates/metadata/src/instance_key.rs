//! An instance id packed into ten bytes, so the served table's indexes hold no string per
//! instance.
//!
//! EC2 instance ids are `i-` and 8 (older) or 17 lowercase hex digits (`model::ids`): the
//! digits go two to a byte after a byte holding how many there are (leading zeros count), so
//! the id is given back exactly as it was written.

use std::fmt;

/// Hex digits a key holds at most (9 bytes of two).
const MAX_DIGITS: usize = 18;

/// `i-0123456789abcdef0`, packed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceKey([u8; 10]);

impl InstanceKey {
    /// The key of `id`, if it is `i-` and 1 to 18 lowercase hex digits (every id EC2 or imds
    /// issues is).
    pub fn parse(id: &str) -> Option<InstanceKey> {
        let digits = id.strip_prefix("i-")?.as_bytes();
        if digits.is_empty() || digits.len() > MAX_DIGITS {
            return None;
        }
        let mut packed = [0u8; 10];
        packed[0] = digits.len() as u8;
        for (n, d) in digits.iter().enumerate() {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                _ => return None,
            };
            packed[1 + n / 2] |= if n % 2 == 0 { v << 4 } else { v };
        }
        Some(InstanceKey(packed))
    }

    /// The id as written (`i-…`).
    pub fn id(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 2 + MAX_DIGITS];
        out[..2].copy_from_slice(b"i-");
        let n = usize::from(self.0[0]);
        for i in 0..n {
            let byte = self.0[1 + i / 2];
            let v = if i % 2 == 0 { byte >> 4 } else { byte & 0xf };
            out[2 + i] = HEX[usize::from(v)];
        }
        // Only ASCII hex was written.
        f.write_str(std::str::from_utf8(&out[..2 + n]).unwrap_or("i-"))
    }
}

impl fmt::Debug for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_exactly() {
        for id in [
            "i-0123456789abcdef0",
            "i-1234abcd",
            "i-00000000000000000",
            "i-f",
        ] {
            assert_eq!(InstanceKey::parse(id).unwrap().id(), id);
        }
        assert_ne!(
            InstanceKey::parse("i-01"),
            InstanceKey::parse("i-1"),
            "leading zeros count"
        );
    }

    #[test]
    fn what_is_no_instance_id_has_no_key() {
        for id in [
            "",
            "i-",
            "i-ABC",
            "ami-12345678",
            "i-0123456789abcdef0123",
            "i-12 4",
        ] {
            assert_eq!(InstanceKey::parse(id), None, "{id}");
        }
    }

    #[test]
    fn a_key_is_ten_bytes() {
        assert_eq!(std::mem::size_of::<InstanceKey>(), 10);
    }
}
