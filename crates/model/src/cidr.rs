//! IPv4 CIDR blocks as EC2 reads them, and the addresses a subnet hands out.
//!
//! A VPC or subnet block is `a.b.c.d/n`. EC2 keeps the network of a block given with host
//! bits set (`10.0.0.1/16` is `10.0.0.0/16`; UNCONFIRMED: moto reads them with
//! `strict=False` likewise, no AWS page says so). In every subnet the first four addresses
//! and the last one are reserved (Amazon VPC User Guide, "Subnet CIDR blocks": network
//! address, VPC router, DNS, future use, and the network broadcast address).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;

/// How many addresses at the start of every subnet AWS reserves.
pub(crate) const RESERVED_AT_START: u32 = 4;
/// And at its end (the broadcast address).
pub(crate) const RESERVED_AT_END: u32 = 1;

/// An IPv4 block: its network address (host bits clear) and prefix length (0..=32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    base: Ipv4Addr,
    len: u8,
}

impl Cidr {
    /// The block of `base` with its host bits cleared; `None` for a length over 32.
    pub fn new(base: Ipv4Addr, len: u8) -> Option<Cidr> {
        (len <= 32).then(|| Cidr {
            base: Ipv4Addr::from(u32::from(base) & mask(len)),
            len,
        })
    }

    /// `a.b.c.d/n` with four decimal octets and a decimal length 0..=32; anything else
    /// (missing length, leading `+`, spaces, IPv6) is `None`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (ip, len) = s.split_once('/')?;
        if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let ip: Ipv4Addr = ip.parse().ok()?;
        Cidr::new(ip, len.parse().ok()?)
    }

    pub fn base(&self) -> Ipv4Addr {
        self.base
    }

    pub(crate) fn prefix_len(&self) -> u8 {
        self.len
    }

    /// How many addresses the block spans (2^(32 − len)).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.len))
    }

    fn first(&self) -> u64 {
        u64::from(u32::from(self.base))
    }

    fn last(&self) -> u64 {
        self.first() + self.size() - 1
    }

    /// Whether `other` lies wholly inside this block.
    pub fn contains(&self, other: &Cidr) -> bool {
        other.first() >= self.first() && other.last() <= self.last()
    }

    /// Whether the two blocks share an address.
    pub(crate) fn overlaps(&self, other: &Cidr) -> bool {
        self.first() <= other.last() && other.first() <= self.last()
    }

    /// The offsets of the addresses an instance may get: all but the four first and the last.
    pub fn usable(&self) -> Range<u32> {
        let size = self.size().min(u64::from(u32::MAX)) as u32;
        RESERVED_AT_START..size.saturating_sub(RESERVED_AT_END).max(RESERVED_AT_START)
    }

    /// How many addresses instances may get: 2^(32 − len) − 5.
    pub fn usable_count(&self) -> u64 {
        self.usable().len() as u64
    }

    pub fn address(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base).wrapping_add(offset))
    }

    pub fn offset_of(&self, ip: Ipv4Addr) -> Option<u32> {
        let v = u64::from(u32::from(ip));
        (v >= self.first() && v <= self.last()).then(|| (v - self.first()) as u32)
    }
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.len)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Cidr::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a CIDR block: {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        Cidr::parse(s).unwrap()
    }

    #[test]
    fn parse_accepts_blocks_and_clears_host_bits() {
        assert_eq!(c("10.0.0.0/16").to_string(), "10.0.0.0/16");
        assert_eq!(c("10.0.3.7/16").to_string(), "10.0.0.0/16");
        assert_eq!(c("10.0.0.17/28").to_string(), "10.0.0.16/28");
        assert_eq!(c("0.0.0.0/0").size(), 1 << 32);
        for bad in [
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0/16",
            "10.0.0.256/16",
            "10.0.0.0/+16",
            "10.0.0.0/ 16",
            "10.0.0.0/016x",
            "fd00::/64",
            "",
            "/16",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn containment_and_overlap() {
        let vpc = c("10.0.0.0/16");
        assert!(vpc.contains(&c("10.0.0.0/16")));
        assert!(vpc.contains(&c("10.0.255.240/28")));
        assert!(!vpc.contains(&c("10.0.0.0/15")));
        assert!(!vpc.contains(&c("10.1.0.0/24")));
        assert!(c("10.0.0.0/24").overlaps(&c("10.0.0.128/26")));
        assert!(c("10.0.0.128/26").overlaps(&c("10.0.0.0/24")));
        assert!(!c("10.0.0.0/25").overlaps(&c("10.0.0.128/25")));
    }

    #[test]
    fn five_reserved_addresses() {
        let s = c("10.0.0.16/28");
        assert_eq!(s.usable(), 4..15);
        assert_eq!(s.usable_count(), 11);
        assert_eq!(s.address(4), Ipv4Addr::new(10, 0, 0, 20));
        assert_eq!(s.address(14), Ipv4Addr::new(10, 0, 0, 30));
        assert_eq!(s.offset_of(Ipv4Addr::new(10, 0, 0, 31)), Some(15));
        assert_eq!(s.offset_of(Ipv4Addr::new(10, 0, 0, 32)), None);
        assert_eq!(c("172.31.0.0/20").usable_count(), 4091);
        assert_eq!(c("10.0.0.0/16").usable_count(), 65531);
    }
}
