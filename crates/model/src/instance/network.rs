//! Where an instance was launched: its subnet's and VPC's blocks and zone, and its private
//! DNS name.

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// The blocks of an instance's subnet and VPC and its zone's id, as at launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPlacement {
    pub subnet_cidr: crate::cidr::Cidr,
    pub vpc_cidr: crate::cidr::Cidr,
    pub availability_zone_id: String,
}

/// `ip-172-31-0-4.ec2.internal` in us-east-1, `ip-….REGION.compute.internal` elsewhere: the
/// private DNS name DescribeInstances reports and the metadata service's `hostname`.
pub fn private_dns_name(ip: Ipv4Addr, region: &str) -> String {
    let ip = ip.to_string().replace('.', "-");
    if region == "us-east-1" {
        format!("ip-{ip}.ec2.internal")
    } else {
        format!("ip-{ip}.{region}.compute.internal")
    }
}
