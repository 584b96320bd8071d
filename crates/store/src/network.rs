//! The VPCs and subnets an account creates ([`NetworkStore`]); the Region's default VPC and
//! its subnets are the catalogue's. Creations and deletions are decided by the model inside
//! the write, so a launch and a deletion cannot cross.

use crate::Result;
use async_trait::async_trait;
use model::catalogue;
use model::tags::Tag;
use model::vpc::{Subnet, Vpc};
use model::{Ec2Error, Scope};
use std::collections::HashMap;

/// Builds a new subnet of a VPC (given with its subnets, default ones included) inside the
/// write transaction; the model checks its block against them.
pub type SubnetBuilder =
    Box<dyn FnOnce(&Vpc, &[Subnet]) -> std::result::Result<Subnet, Ec2Error> + Send>;

/// Decides whether a VPC may be deleted, given how many subnets it has.
pub type VpcDeletion = Box<dyn FnOnce(&Vpc, usize) -> std::result::Result<(), Ec2Error> + Send>;

/// Decides whether a subnet may be deleted, given how many addresses instances hold in it.
pub type SubnetDeletion = Box<dyn FnOnce(&Subnet, u64) -> std::result::Result<(), Ec2Error> + Send>;

/// A change to the tags of a VPC or subnet.
pub type TagsMutation = Box<dyn FnOnce(&mut Vec<Tag>) -> std::result::Result<(), Ec2Error> + Send>;

/// The catalogue's VPC of the scope with this id: the Region's default VPC, which every
/// backend serves beside those accounts create, and never stores.
pub fn default_vpc(scope: &Scope, vpc_id: &str) -> Option<Vpc> {
    Some(catalogue::default_vpc(&scope.region).vpc).filter(|v| v.vpc_id == vpc_id)
}

/// The catalogue's subnet of the scope with this id: one of its default VPC's.
pub fn default_subnet(scope: &Scope, subnet_id: &str) -> Option<Subnet> {
    catalogue::default_vpc(&scope.region)
        .subnets
        .into_iter()
        .find(|s| s.subnet_id == subnet_id)
}

/// The catalogue's subnets of a VPC of the scope: the default subnets, for the default VPC
/// (they come before those accounts add to it).
pub fn default_subnets_of(scope: &Scope, vpc_id: &str) -> Vec<Subnet> {
    catalogue::default_vpc(&scope.region)
        .subnets
        .into_iter()
        .filter(|s| s.vpc_id == vpc_id)
        .collect()
}

#[async_trait]
pub trait NetworkStore: Send + Sync {
    async fn create_vpc(&self, scope: &Scope, vpc: Vpc) -> Result<()>;
    /// The scope's VPCs, in creation order.
    async fn vpcs(&self, scope: &Scope) -> Result<Vec<Vpc>>;
    /// Delete a VPC once `check` allows it; unknown is `InvalidVpcID.NotFound`.
    async fn delete_vpc(&self, scope: &Scope, vpc_id: &str, check: VpcDeletion) -> Result<Vpc>;
    /// Create a subnet in a VPC of the scope (or its Region's default VPC).
    async fn create_subnet(
        &self,
        scope: &Scope,
        vpc_id: &str,
        build: SubnetBuilder,
    ) -> Result<Subnet>;
    /// The scope's subnets, in creation order.
    async fn subnets(&self, scope: &Scope) -> Result<Vec<Subnet>>;
    /// Delete a subnet once `check` allows it; unknown is `InvalidSubnetID.NotFound`.
    async fn delete_subnet(
        &self,
        scope: &Scope,
        subnet_id: &str,
        check: SubnetDeletion,
    ) -> Result<Subnet>;
    /// Change the tags of a VPC or subnet of the scope (by its id).
    async fn update_network_tags(&self, scope: &Scope, id: &str, f: TagsMutation) -> Result<()>;
    /// How many addresses of each of these subnets instances hold: every instance not yet
    /// `terminated` holds its private address (EC2 releases it at termination), whatever
    /// its account, since addresses are allocated per subnet id.
    async fn subnet_usage(&self, subnet_ids: &[String]) -> Result<HashMap<String, u64>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_holds_each_regions_default_vpc_and_subnets() {
        let scope = Scope::new("123456789012", "us-west-2");
        let d = catalogue::default_vpc("us-west-2");
        assert_eq!(default_vpc(&scope, &d.vpc.vpc_id), Some(d.vpc.clone()));
        assert_eq!(default_vpc(&scope, "vpc-0123456789abcdef0"), None);
        assert_eq!(
            default_subnet(&scope, &d.subnets[1].subnet_id),
            Some(d.subnets[1].clone())
        );
        assert_eq!(default_subnets_of(&scope, &d.vpc.vpc_id), d.subnets);
        assert!(default_subnets_of(&scope, "vpc-0123456789abcdef0").is_empty());
        let elsewhere = Scope::new("123456789012", "eu-west-3");
        assert_eq!(default_vpc(&elsewhere, &d.vpc.vpc_id), None);
    }
}
