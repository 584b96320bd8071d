//! VPCs and subnets: the Region's default VPC (see [`crate::catalogue`]) and those an
//! account creates, with EC2's rules for their CIDR blocks, zones and deletion.
//!
//! Sources: EC2 API reference, CreateVpc ("The smallest VPC you can create uses a /28
//! netmask (16 IPv4 addresses), and the largest uses a /16 netmask") and CreateSubnet (the
//! same sizes; the block must lie in the VPC's and not overlap another subnet of it); error
//! codes and wording as EC2 answers them (`InvalidVpc.Range` / `InvalidSubnet.Range`: "The
//! CIDR '10.8.1.0/32' is invalid." in public Terraform output; `InvalidSubnet.Conflict`;
//! `DependencyViolation`: "The vpc 'vpc-…' has dependencies and cannot be deleted."), and
//! the OpenStack ec2-api functional tests run against AWS (a /29 subnet, one larger than its
//! VPC and one outside it are all `InvalidSubnet.Range`).

use crate::cidr::Cidr;
use crate::error::Ec2Error;
use crate::tags::Tag;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// The prefix lengths of a VPC's or subnet's IPv4 block.
pub(crate) const SMALLEST_PREFIX: u8 = 28;
pub(crate) const LARGEST_PREFIX: u8 = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    pub vpc_id: String,
    pub cidr: Cidr,
    pub is_default: bool,
    /// `default` or `dedicated`.
    pub instance_tenancy: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub availability_zone_id: String,
    pub cidr: Cidr,
    /// Default subnets (one per zone of the default VPC) also map public addresses.
    pub default_for_az: bool,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Subnet {
    /// Whether instances launched here get a public address: the default subnets do, a
    /// subnet one creates does not (VPC User Guide, "Subnet settings").
    pub fn map_public_ip_on_launch(&self) -> bool {
        self.default_for_az
    }
}

/// The error for a `cidrBlock` that is not an IPv4 CIDR block (moto's wording for EC2's).
fn not_a_block(value: &str) -> Ec2Error {
    Ec2Error::InvalidParameterValue(format!(
        "Value ({value}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
    ))
}

fn sized(c: &Cidr) -> bool {
    (LARGEST_PREFIX..=SMALLEST_PREFIX).contains(&c.prefix_len())
}

/// The block of a new VPC: an IPv4 CIDR block of /16 to /28.
pub fn vpc_block(value: &str) -> Result<Cidr, Ec2Error> {
    let c = Cidr::parse(value).ok_or_else(|| not_a_block(value))?;
    if !sized(&c) {
        return Err(Ec2Error::InvalidVpcRange(value.to_string()));
    }
    Ok(c)
}

/// The block of a new subnet of `vpc`: /16 to /28, inside the VPC's block, overlapping
/// none of `siblings` (the VPC's other subnets).
pub fn subnet_block(value: &str, vpc: &Vpc, siblings: &[Subnet]) -> Result<Cidr, Ec2Error> {
    let c = Cidr::parse(value).ok_or_else(|| not_a_block(value))?;
    if !sized(&c) || !vpc.cidr.contains(&c) {
        return Err(Ec2Error::InvalidSubnetRange(value.to_string()));
    }
    if siblings.iter().any(|s| s.cidr.overlaps(&c)) {
        return Err(Ec2Error::InvalidSubnetConflict(value.to_string()));
    }
    Ok(c)
}

/// A Region's Availability Zone: its name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub id: String,
}

/// The zone of a new subnet: the one named by `name` or `id` (one of the Region's), or, when
/// neither is given, the one at `pick` (EC2 chooses one: "If you don't specify an
/// Availability Zone, we choose one for you").
pub fn subnet_zone(
    zones: &[Zone],
    name: Option<&str>,
    id: Option<&str>,
    pick: u64,
) -> Result<Zone, Ec2Error> {
    let list = |f: fn(&Zone) -> &str| zones.iter().map(f).collect::<Vec<_>>().join(", ");
    match (name, id) {
        // UNCONFIRMED: EC2's answer to both; the model documents them as alternatives.
        (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination(
            "Only one of availabilityZone or availabilityZoneId may be specified.".into(),
        )),
        // Wording of EC2's answer, as quoted by moto's InvalidAvailabilityZoneError.
        (Some(n), None) => zones.iter().find(|z| z.name == n).cloned().ok_or_else(|| {
            Ec2Error::InvalidParameterValue(format!(
                "Value ({n}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {}.",
                list(|z| &z.name)
            ))
        }),
        // UNCONFIRMED: the same sentence for availabilityZoneId.
        (None, Some(i)) => zones.iter().find(|z| z.id == i).cloned().ok_or_else(|| {
            Ec2Error::InvalidParameterValue(format!(
                "Value ({i}) for parameter availabilityZoneId is invalid. Subnets can currently only be created in the following availability zones: {}.",
                list(|z| &z.id)
            ))
        }),
        (None, None) if zones.is_empty() => Err(Ec2Error::InternalError),
        (None, None) => Ok(zones[(pick % zones.len() as u64) as usize].clone()),
    }
}

/// Whether a VPC may go: not while it has subnets (EC2 API reference, DeleteVpc: "You must
/// detach or delete all gateways and resources that are associated with the VPC before you
/// can delete it"). The default VPC always has its default subnets.
pub fn check_vpc_deletable(vpc: &Vpc, subnets: usize) -> Result<(), Ec2Error> {
    if subnets > 0 || vpc.is_default {
        return Err(Ec2Error::DependencyViolation(format!(
            "The vpc '{}' has dependencies and cannot be deleted.",
            vpc.vpc_id
        )));
    }
    Ok(())
}

/// Whether a subnet may go: not while an instance not yet terminated holds one of its
/// addresses (EC2 API reference, DeleteSubnet: "You must terminate all running instances in
/// the subnet before you can delete the subnet").
pub fn check_subnet_deletable(subnet: &Subnet, held: u64) -> Result<(), Ec2Error> {
    if held > 0 {
        return Err(Ec2Error::DependencyViolation(format!(
            "The subnet '{}' has dependencies and cannot be deleted.",
            subnet.subnet_id
        )));
    }
    Ok(())
}

/// The addresses a launch takes in `subnet`, given those instances already hold there: the
/// address asked for (a launch names one only for a single instance), which must be one an
/// instance may get (not one of the five reserved) and free; else the lowest `count` free
/// ones. EC2 picks addresses as it likes; the lowest first makes them predictable.
pub fn allocate_addresses(
    subnet: &Subnet,
    held: &[Ipv4Addr],
    asked: Option<Ipv4Addr>,
    count: u32,
) -> Result<Vec<Ipv4Addr>, Ec2Error> {
    let held: HashSet<Ipv4Addr> = held.iter().copied().collect();
    let cidr = subnet.cidr;
    if let Some(ip) = asked {
        let usable = cidr
            .offset_of(ip)
            .is_some_and(|o| cidr.usable().contains(&o));
        if !usable {
            return Err(Ec2Error::InvalidParameterValueAddress {
                address: ip.to_string(),
            });
        }
        if held.contains(&ip) {
            return Err(Ec2Error::InvalidIpAddressInUse(ip.to_string()));
        }
        return Ok(vec![ip]);
    }
    let free: Vec<Ipv4Addr> = cidr
        .usable()
        .map(|o| cidr.address(o))
        .filter(|ip| !held.contains(ip))
        .take(count as usize)
        .collect();
    if free.len() < count as usize {
        return Err(Ec2Error::InsufficientFreeAddressesInSubnet(
            subnet.subnet_id.clone(),
        ));
    }
    Ok(free)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vpc(block: &str) -> Vpc {
        Vpc {
            vpc_id: "vpc-0123456789abcdef0".into(),
            cidr: Cidr::parse(block).unwrap(),
            is_default: false,
            instance_tenancy: "default".into(),
            tags: vec![],
        }
    }

    fn subnet(block: &str) -> Subnet {
        Subnet {
            subnet_id: "subnet-0123456789abcdef0".into(),
            vpc_id: "vpc-0123456789abcdef0".into(),
            availability_zone: "eu-west-3a".into(),
            availability_zone_id: "euw3-az1".into(),
            cidr: Cidr::parse(block).unwrap(),
            default_for_az: false,
            tags: vec![],
        }
    }

    #[test]
    fn vpc_sizes_16_to_28() {
        assert_eq!(vpc_block("10.0.0.0/16").unwrap().to_string(), "10.0.0.0/16");
        assert_eq!(vpc_block("10.0.0.0/28").unwrap().to_string(), "10.0.0.0/28");
        assert_eq!(vpc_block("10.0.0.5/24").unwrap().to_string(), "10.0.0.0/24");
        for bad in ["10.0.0.0/8", "10.0.0.0/15", "10.0.0.0/29", "10.0.0.0/32"] {
            assert_eq!(
                vpc_block(bad),
                Err(Ec2Error::InvalidVpcRange(bad.into())),
                "{bad}"
            );
        }
        assert!(matches!(
            vpc_block("10.0.0/16"),
            Err(Ec2Error::InvalidParameterValue(m)) if m.contains("This is not a valid CIDR block")
        ));
        assert_eq!(
            Ec2Error::InvalidVpcRange("10.0.0.0/8".into()).to_string(),
            "The CIDR '10.0.0.0/8' is invalid."
        );
    }

    #[test]
    fn subnet_inside_its_vpc_without_overlap() {
        let v = vpc("10.2.0.0/20");
        let siblings = [subnet("10.2.0.0/24")];
        assert!(subnet_block("10.2.1.0/24", &v, &siblings).is_ok());
        assert!(subnet_block("10.2.15.240/28", &v, &siblings).is_ok());
        for out in ["10.1.0.0/24", "10.2.0.0/19", "10.2.1.0/29", "10.2.16.0/24"] {
            assert_eq!(
                subnet_block(out, &v, &siblings),
                Err(Ec2Error::InvalidSubnetRange(out.into())),
                "{out}"
            );
        }
        assert_eq!(
            subnet_block("10.2.0.128/26", &v, &siblings),
            Err(Ec2Error::InvalidSubnetConflict("10.2.0.128/26".into()))
        );
        assert_eq!(
            subnet_block("10.2.0.0/20", &v, &siblings),
            Err(Ec2Error::InvalidSubnetConflict("10.2.0.0/20".into()))
        );
        assert_eq!(
            Ec2Error::InvalidSubnetConflict("10.2.0.128/26".into()).to_string(),
            "The CIDR '10.2.0.128/26' conflicts with another subnet"
        );
    }

    #[test]
    fn zones_by_name_id_or_chosen() {
        let zones = vec![
            Zone {
                name: "eu-west-3a".into(),
                id: "euw3-az1".into(),
            },
            Zone {
                name: "eu-west-3b".into(),
                id: "euw3-az2".into(),
            },
        ];
        assert_eq!(
            subnet_zone(&zones, Some("eu-west-3b"), None, 0).unwrap().id,
            "euw3-az2"
        );
        assert_eq!(
            subnet_zone(&zones, None, Some("euw3-az1"), 1).unwrap().name,
            "eu-west-3a"
        );
        assert_eq!(
            subnet_zone(&zones, None, None, 3).unwrap().name,
            "eu-west-3b"
        );
        let e = subnet_zone(&zones, Some("us-east-1a"), None, 0).unwrap_err();
        assert_eq!(e.to_string(), "Value (us-east-1a) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: eu-west-3a, eu-west-3b.");
        assert!(subnet_zone(&zones, None, Some("use1-az1"), 0).is_err());
        assert!(matches!(
            subnet_zone(&zones, Some("eu-west-3a"), Some("euw3-az1"), 0),
            Err(Ec2Error::InvalidParameterCombination(_))
        ));
    }

    #[test]
    fn deletion_waits_for_dependencies() {
        let v = vpc("10.0.0.0/16");
        assert!(check_vpc_deletable(&v, 0).is_ok());
        assert_eq!(
            check_vpc_deletable(&v, 1).unwrap_err().to_string(),
            "The vpc 'vpc-0123456789abcdef0' has dependencies and cannot be deleted."
        );
        let default = Vpc {
            is_default: true,
            ..v
        };
        assert!(check_vpc_deletable(&default, 0).is_err());
        let s = subnet("10.0.0.0/24");
        assert!(check_subnet_deletable(&s, 0).is_ok());
        assert_eq!(
            check_subnet_deletable(&s, 2).unwrap_err().to_string(),
            "The subnet 'subnet-0123456789abcdef0' has dependencies and cannot be deleted."
        );
    }

    #[test]
    fn launches_take_the_lowest_free_usable_addresses() {
        let s = subnet("10.0.0.0/28");
        let ip = |n: u8| Ipv4Addr::new(10, 0, 0, n);
        assert_eq!(
            allocate_addresses(&s, &[], None, 2).unwrap(),
            vec![ip(4), ip(5)],
            "the first four are reserved"
        );
        assert_eq!(
            allocate_addresses(&s, &[ip(4), ip(6)], None, 3).unwrap(),
            vec![ip(5), ip(7), ip(8)],
            "held addresses are skipped"
        );
        let all: Vec<_> = (4..=14).map(ip).collect();
        assert_eq!(all.len() as u64, s.cidr.usable_count());
        assert_eq!(
            allocate_addresses(&s, &[], None, 11).unwrap(),
            all,
            "the last is reserved"
        );
        assert_eq!(
            allocate_addresses(&s, &all[1..], None, 2),
            Err(Ec2Error::InsufficientFreeAddressesInSubnet(
                "subnet-0123456789abcdef0".into()
            ))
        );
        assert!(allocate_addresses(&s, &all, None, 0).unwrap().is_empty());
    }

    #[test]
    fn an_address_asked_for_is_usable_and_free() {
        let s = subnet("10.0.0.0/28");
        let ip = |n: u8| Ipv4Addr::new(10, 0, 0, n);
        assert_eq!(
            allocate_addresses(&s, &[ip(4)], Some(ip(9)), 1).unwrap(),
            vec![ip(9)]
        );
        for outside in [ip(0), ip(3), ip(15), Ipv4Addr::new(10, 0, 1, 4)] {
            assert_eq!(
                allocate_addresses(&s, &[], Some(outside), 1),
                Err(Ec2Error::InvalidParameterValueAddress {
                    address: outside.to_string()
                }),
                "{outside}"
            );
        }
        assert_eq!(
            allocate_addresses(&s, &[ip(9)], Some(ip(9)), 1),
            Err(Ec2Error::InvalidIpAddressInUse("10.0.0.9".into()))
        );
    }
}
