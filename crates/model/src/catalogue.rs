//! The built-in catalogue that EC2 has before a user does anything: public images, instance
//! types and, in every Region, a default VPC with one default subnet per Availability Zone.
//!
//! The catalogue is the same in every Region (real AMI ids differ per Region; ours do not,
//! so that examples work anywhere). Ids are fixed, so tests and documentation can name them.

use crate::cidr::Cidr;
use crate::image::{Image, ImdsSupport};
pub use crate::vpc::{Subnet, Vpc, Zone};
use std::net::Ipv4Addr;

/// The account that owns Amazon's public images.
pub(crate) const AMAZON_OWNER: &str = "137112412989";
const CANONICAL_OWNER: &str = "099720109477";

/// The Amazon Linux 2 image of the user guide's examples (`ami-0abcdef1234567890`): no ImdsSupport.
pub const AL2_IMAGE: &str = "ami-0abcdef1234567890";
/// Amazon Linux 2023: `ImdsSupport=v2.0`, like the real one.
pub(crate) const AL2023_IMAGE: &str = "ami-0a2c1e3f5b7d9e011";
/// Ubuntu 22.04: no ImdsSupport.
pub(crate) const UBUNTU_IMAGE: &str = "ami-0b1c2d3e4f5a6b7c8";

pub fn public_images() -> Vec<Image> {
    let img =
        |id: &str, owner: &str, alias: Option<&str>, name: &str, desc: &str, v2: bool| Image {
            image_id: id.into(),
            owner_id: owner.into(),
            owner_alias: alias.map(str::to_string),
            name: name.into(),
            description: Some(desc.into()),
            architecture: "x86_64".into(),
            platform_details: "Linux/UNIX".into(),
            root_device_name: if owner == CANONICAL_OWNER {
                "/dev/sda1"
            } else {
                "/dev/xvda"
            }
            .into(),
            virtualization_type: "hvm".into(),
            ena_support: true,
            public: true,
            imds_support: v2.then_some(ImdsSupport::V2_0),
            creation_date: "2024-10-01T00:00:00.000Z".into(),
            tags: Vec::new(),
        };
    vec![
        img(
            AL2_IMAGE,
            AMAZON_OWNER,
            Some("amazon"),
            "amzn2-ami-kernel-5.10-hvm-2.0.20241001.0-x86_64-gp2",
            "Amazon Linux 2 Kernel 5.10 AMI 2.0.20241001.0 x86_64 HVM gp2",
            false,
        ),
        img(
            AL2023_IMAGE,
            AMAZON_OWNER,
            Some("amazon"),
            "al2023-ami-2023.6.20241010.0-kernel-6.1-x86_64",
            "Amazon Linux 2023 AMI 2023.6.20241010.0 x86_64 HVM kernel-6.1",
            true,
        ),
        img(
            UBUNTU_IMAGE,
            CANONICAL_OWNER,
            None,
            "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20241002",
            "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2024-10-02",
            false,
        ),
    ]
}

pub fn public_image(id: &str) -> Option<Image> {
    public_images().into_iter().find(|i| i.image_id == id)
}

/// The hypervisor an instance type is built on: it decides whether the IPv6 endpoint of the
/// metadata service may be enabled (Nitro only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hypervisor {
    Nitro,
    Xen,
}

impl Hypervisor {
    /// As DescribeInstanceTypes names it (`nitro`/`xen`); instances say `xen` for both in
    /// their `hypervisor` member, as EC2 does.
    pub fn as_str(self) -> &'static str {
        match self {
            Hypervisor::Nitro => "nitro",
            Hypervisor::Xen => "xen",
        }
    }

    /// The one rule of the IPv6 endpoint: it cannot be enabled on a Xen-backed type, whether
    /// at launch, by ModifyInstanceMetadataOptions, or by changing the type of an instance
    /// that has it enabled.
    pub fn allows(self, ipv6: crate::options::HttpProtocolIpv6) -> Result<(), crate::Ec2Error> {
        if self == Hypervisor::Xen && ipv6 == crate::options::HttpProtocolIpv6::Enabled {
            return Err(crate::Ec2Error::UnsupportedOperation(
                "The HttpProtocolIpv6 metadata option cannot be enabled for Xen-backed instance types."
                    .into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceType {
    pub name: &'static str,
    pub hypervisor: Hypervisor,
    pub burstable: bool,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub architecture: &'static str,
}

const fn t(
    name: &'static str,
    hypervisor: Hypervisor,
    burstable: bool,
    vcpus: u32,
    memory_mib: u64,
    architecture: &'static str,
) -> InstanceType {
    InstanceType {
        name,
        hypervisor,
        burstable,
        vcpus,
        memory_mib,
        architecture,
    }
}

use Hypervisor::{Nitro, Xen};

pub const INSTANCE_TYPES: &[InstanceType] = &[
    t("m1.small", Xen, false, 1, 1740, "x86_64"),
    t("t2.nano", Xen, true, 1, 512, "x86_64"),
    t("t2.micro", Xen, true, 1, 1024, "x86_64"),
    t("t2.small", Xen, true, 1, 2048, "x86_64"),
    t("t2.medium", Xen, true, 2, 4096, "x86_64"),
    t("t3.nano", Nitro, true, 2, 512, "x86_64"),
    t("t3.micro", Nitro, true, 2, 1024, "x86_64"),
    t("t3.small", Nitro, true, 2, 2048, "x86_64"),
    t("t3.medium", Nitro, true, 2, 4096, "x86_64"),
    t("t3.large", Nitro, true, 2, 8192, "x86_64"),
    t("t4g.micro", Nitro, true, 2, 1024, "arm64"),
    t("t4g.small", Nitro, true, 2, 2048, "arm64"),
    t("m4.large", Xen, false, 2, 8192, "x86_64"),
    t("m5.large", Nitro, false, 2, 8192, "x86_64"),
    t("m5.xlarge", Nitro, false, 4, 16384, "x86_64"),
    t("m6i.large", Nitro, false, 2, 8192, "x86_64"),
    t("m7g.large", Nitro, false, 2, 8192, "arm64"),
    t("c3.large", Xen, false, 2, 3840, "x86_64"),
    t("c4.large", Xen, false, 2, 3840, "x86_64"),
    t("c5.large", Nitro, false, 2, 4096, "x86_64"),
    t("c6i.large", Nitro, false, 2, 4096, "x86_64"),
    t("r5.large", Nitro, false, 2, 16384, "x86_64"),
];

/// The type RunInstances uses when none is given (EC2's documented default).
pub const DEFAULT_INSTANCE_TYPE: &str = "m1.small";

pub fn instance_type(name: &str) -> Option<&'static InstanceType> {
    INSTANCE_TYPES.iter().find(|t| t.name == name)
}

/// The Region's default VPC (172.31.0.0/16) and its default subnets, one /20 per
/// Availability Zone, as EC2 lays out a default VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultVpc {
    pub vpc: Vpc,
    pub subnets: Vec<Subnet>,
}

/// A stable 64-bit hash (FNV-1a), so that a Region's default VPC has the same id everywhere.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How many Availability Zones a Region has here (us-east-1 has six, as on EC2).
fn zone_count(region: &str) -> usize {
    match region {
        "us-east-1" => 6,
        "us-west-2" | "ap-northeast-1" | "eu-west-1" => 4,
        _ => 3,
    }
}

/// The prefix of a Region's Availability Zone ids, as EC2 forms them: `use1` for us-east-1,
/// `apne1` for ap-northeast-1, `euc1` for eu-central-1.
pub(crate) fn zone_id_prefix(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    fn direction(d: &str) -> &str {
        match d {
            "northeast" => "ne",
            "southeast" => "se",
            "northwest" => "nw",
            "southwest" => "sw",
            other => other.get(..1).unwrap_or(other),
        }
    }
    match parts.as_slice() {
        [area, dir, n] => format!("{area}{}{n}", direction(dir)),
        _ => region.replace('-', ""),
    }
}

/// The Region's Availability Zones, in order (`us-east-1a` is `use1-az1`, …).
pub fn zones(region: &str) -> Vec<Zone> {
    let short = zone_id_prefix(region);
    (0..zone_count(region))
        .map(|i| Zone {
            name: format!("{region}{}", (b'a' + i as u8) as char),
            id: format!("{short}-az{}", i + 1),
        })
        .collect()
}

/// The Region's default VPC, the same for every account (stable ids).
pub fn default_vpc(region: &str) -> DefaultVpc {
    let vpc_id = crate::ids::new_id(crate::ids::VPC, fnv(region));
    let subnets = zones(region)
        .into_iter()
        .enumerate()
        .map(|(i, z)| Subnet {
            subnet_id: crate::ids::new_id(crate::ids::SUBNET, fnv(&z.name)),
            vpc_id: vpc_id.clone(),
            availability_zone: z.name,
            availability_zone_id: z.id,
            cidr: Cidr::new(Ipv4Addr::new(172, 31, (i as u8) * 16, 0), 20).expect("/20"),
            default_for_az: true,
            tags: Vec::new(),
        })
        .collect();
    DefaultVpc {
        vpc: Vpc {
            vpc_id,
            cidr: Cidr::new(Ipv4Addr::new(172, 31, 0, 0), 16).expect("/16"),
            is_default: true,
            instance_tenancy: "default".into(),
            tags: Vec::new(),
        },
        subnets,
    }
}

/// The Regions imds answers for (the commercial Regions of EC2).
pub const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "sa-east-1",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_xen_refuses_the_ipv6_endpoint() {
        use crate::options::HttpProtocolIpv6::{Disabled, Enabled};
        assert!(Hypervisor::Nitro.allows(Enabled).is_ok());
        assert!(Hypervisor::Xen.allows(Disabled).is_ok());
        let e = Hypervisor::Xen.allows(Enabled).unwrap_err();
        assert!(e.to_string().contains("Xen-backed"), "{e}");
    }

    #[test]
    fn default_vpc_layout() {
        let v = default_vpc("us-east-1");
        assert_eq!(v.subnets.len(), 6);
        assert!(crate::ids::is_well_formed(&v.vpc.vpc_id, "vpc"));
        assert_eq!(v.subnets[1].cidr.base(), Ipv4Addr::new(172, 31, 16, 0));
        assert_eq!(v.subnets[0].cidr.address(4), Ipv4Addr::new(172, 31, 0, 4));
        assert_eq!(default_vpc("us-east-1"), v, "stable ids");
        assert_ne!(default_vpc("us-west-2").vpc.vpc_id, v.vpc.vpc_id);
        assert_eq!(v.subnets[0].cidr.usable_count(), 4091);
        assert_eq!(v.vpc.cidr.to_string(), "172.31.0.0/16");
    }

    #[test]
    fn zone_ids() {
        assert_eq!(zone_id_prefix("us-east-1"), "use1");
        assert_eq!(zone_id_prefix("ap-northeast-1"), "apne1");
        assert_eq!(zone_id_prefix("eu-central-1"), "euc1");
        assert_eq!(zone_id_prefix("ap-southeast-2"), "apse2");
        assert_eq!(
            default_vpc("us-west-2").subnets[1].availability_zone_id,
            "usw2-az2"
        );
    }

    #[test]
    fn seed_types_and_images() {
        assert_eq!(
            instance_type("c3.large").unwrap().hypervisor,
            Hypervisor::Xen
        );
        assert_eq!(
            instance_type("t2.micro").unwrap().hypervisor,
            Hypervisor::Xen
        );
        assert_eq!(
            instance_type("m5.large").unwrap().hypervisor,
            Hypervisor::Nitro
        );
        assert!(public_image(AL2023_IMAGE).unwrap().imds_support.is_some());
        assert!(public_image(AL2_IMAGE).unwrap().imds_support.is_none());
    }
}
