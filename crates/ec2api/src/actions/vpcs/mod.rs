//! VPCs and subnets: the Region's default VPC (the catalogue's) and those the account creates
//! (CreateVpc, DeleteVpc, CreateSubnet, DeleteSubnet), and what a VPC brings along as EC2
//! makes it: its main route table, default network ACL and default security group, the
//! Region's default DHCP options. DescribeVpcs, DescribeSubnets, DescribeVpcAttribute,
//! DescribeRouteTables, DescribeNetworkAcls and DescribeSecurityGroups list them; Terraform's
//! `aws_vpc` reads all of these after each change.
//!
//! The rules for blocks, zones and deletion are the model's (`model::vpc`). These listings
//! are built in memory (a Region holds few VPCs) and paged by offset.
//!
//! - this module: the VPC actions and what the listings share;
//! - `subnets`: CreateSubnet, DeleteSubnet, DescribeSubnets;
//! - `brought`: what each VPC brings (route tables, network ACLs, security groups).

mod brought;
mod subnets;

pub use brought::{
    describe_network_acls, describe_route_tables, describe_security_groups, DescribeNetworkAclsIn,
    DescribeRouteTablesIn, DescribeSecurityGroupsIn,
};
pub use subnets::{
    create_subnet, delete_subnet, describe_subnets, CreateSubnetIn, DeleteSubnetIn,
    DescribeSubnetsIn,
};

use super::network::{attrs, filtered};
use super::{dry_run, max_results, page_in_memory, random, tags_for, FilterIn, TagSpecificationIn};
use crate::context::Ctx;
use model::catalogue;
use model::ids;
use model::tags::Tag;
use model::vpc::{self, Subnet, Vpc};
use model::Ec2Error;
use serde::Deserialize;
use serde_json::{json, Value};

/// The scope's VPCs: the Region's default VPC first, then the account's own.
pub async fn all_vpcs(ctx: &Ctx<'_>) -> Result<Vec<Vpc>, Ec2Error> {
    let mut out = vec![catalogue::default_vpc(&ctx.scope.region).vpc];
    out.extend(ctx.api.store.vpcs(&ctx.scope).await?);
    Ok(out)
}

/// The scope's subnets: the default subnets first, then the account's own.
pub async fn all_subnets(ctx: &Ctx<'_>) -> Result<Vec<Subnet>, Ec2Error> {
    let mut out = catalogue::default_vpc(&ctx.scope.region).subnets;
    out.extend(ctx.api.store.subnets(&ctx.scope).await?);
    Ok(out)
}

/// A subnet a request names (RunInstances' `SubnetId`). A default subnet is the catalogue's:
/// the store is read only for the account's own.
pub async fn subnet_by_id(ctx: &Ctx<'_>, id: &str) -> Result<Subnet, Ec2Error> {
    let default = catalogue::default_vpc(&ctx.scope.region).subnets;
    if let Some(s) = default.into_iter().find(|s| s.subnet_id == id) {
        return Ok(s);
    }
    ctx.api
        .store
        .subnets(&ctx.scope)
        .await?
        .into_iter()
        .find(|s| s.subnet_id == id)
        .ok_or_else(|| Ec2Error::InvalidSubnetIdNotFound(id.to_string()))
}

/// The block of a VPC of the scope (the instance metadata shows it). Every launch asks: the
/// default VPC's is the catalogue's, without a store read.
pub async fn vpc_cidr_of(ctx: &Ctx<'_>, vpc_id: &str) -> Result<model::cidr::Cidr, Ec2Error> {
    let default = catalogue::default_vpc(&ctx.scope.region).vpc;
    if default.vpc_id == vpc_id {
        return Ok(default.cidr);
    }
    ctx.api
        .store
        .vpcs(&ctx.scope)
        .await?
        .into_iter()
        .find(|v| v.vpc_id == vpc_id)
        .map(|v| v.cidr)
        .ok_or_else(|| Ec2Error::InvalidVpcIdNotFound(vpc_id.to_string()))
}

/// The hex part of a VPC's id: the ids of what EC2 makes with a VPC derive from it, so that
/// they are stable.
fn suffix(id: &str) -> &str {
    id.split_once('-').map_or(id, |(_, s)| s)
}

/// The Region's default DHCP options set, which every VPC of the Region gets (VPC User
/// Guide, "DHCP option sets": "each VPC … uses the default DHCP option set").
fn dhcp_options_id(region: &str) -> String {
    format!(
        "dopt-{}",
        suffix(&catalogue::default_vpc(region).vpc.vpc_id)
    )
}

/// A VPC's default security group (stable id per VPC).
pub fn default_security_group(vpc_id: &str) -> String {
    format!("sg-{}", suffix(vpc_id))
}

fn main_route_table(vpc_id: &str) -> String {
    format!("rtb-{}", suffix(vpc_id))
}

fn default_network_acl(vpc_id: &str) -> String {
    format!("acl-{}", suffix(vpc_id))
}

fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"Key": t.key, "Value": t.value}))
            .collect(),
    )
}

/// `tag-key`, `tag-value` and `tag:KEY` attributes of a tagged resource.
fn tag_attributes(tags: &[Tag]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in tags {
        out.push(("tag-key".to_string(), t.key.clone()));
        out.push(("tag-value".to_string(), t.value.clone()));
        out.push((format!("tag:{}", t.key), t.value.clone()));
    }
    out
}

/// Put `Tags` in an item when it has some (EC2 leaves `tagSet` out otherwise).
fn with_tags(mut item: Value, tags: &[Tag]) -> Value {
    if !tags.is_empty() {
        item["Tags"] = tags_json(tags);
    }
    item
}

/// Every id in `wanted` must be well formed and one of `existing`.
fn check_ids(
    wanted: &[String],
    existing: &[String],
    prefix: &str,
    not_found: fn(String) -> Ec2Error,
) -> Result<(), Ec2Error> {
    for id in wanted {
        if !ids::is_well_formed(id, prefix) {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Invalid id: \"{id}\" (expecting \"{prefix}-...\")"
            )));
        }
        if !existing.contains(id) {
            return Err(not_found(id.clone()));
        }
    }
    Ok(())
}

fn named<T>(items: Vec<T>, wanted: &[String], id: fn(&T) -> &str) -> Vec<T> {
    items
        .into_iter()
        .filter(|t| wanted.is_empty() || wanted.iter().any(|w| w == id(t)))
        .collect()
}

// ------------------------------------------------------------------- VPCs

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVpcIn {
    cidr_block: Option<String>,
    instance_tenancy: Option<String>,
    ipv4_ipam_pool_id: Option<String>,
    ipv6_cidr_block: Option<String>,
    ipv6_ipam_pool_id: Option<String>,
    amazon_provided_ipv6_cidr_block: Option<bool>,
    #[serde(default)]
    pub(crate) tag_specifications: Vec<TagSpecificationIn>,
    dry_run: Option<bool>,
}

fn vpc_json(v: &Vpc, ctx: &Ctx<'_>, state: &str) -> Value {
    let block = v.cidr.to_string();
    with_tags(
        json!({
            "CidrBlock": block,
            "DhcpOptionsId": dhcp_options_id(&ctx.scope.region),
            "State": state,
            "VpcId": v.vpc_id,
            "OwnerId": ctx.scope.account,
            "InstanceTenancy": v.instance_tenancy,
            "CidrBlockAssociationSet": [{
                "AssociationId": format!("vpc-cidr-assoc-{}", suffix(&v.vpc_id)),
                "CidrBlock": block,
                "CidrBlockState": {"State": "associated"},
            }],
            "IsDefault": v.is_default,
            "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        }),
        &v.tags,
    )
}

/// CreateVpc: an IPv4 block of /16 to /28 (VPCs of one account may overlap, as on EC2).
/// IPAM pools and IPv6 blocks are not kept by imds and are refused rather than ignored.
pub async fn create_vpc(ctx: &Ctx<'_>, req: CreateVpcIn) -> Result<Value, Ec2Error> {
    if req.ipv4_ipam_pool_id.is_some()
        || req.ipv6_cidr_block.is_some()
        || req.ipv6_ipam_pool_id.is_some()
        || req.amazon_provided_ipv6_cidr_block == Some(true)
    {
        return Err(Ec2Error::UnsupportedOperation(
            "imds keeps IPv4 VPC blocks only: IPAM pools and IPv6 blocks are not supported.".into(),
        ));
    }
    // UNCONFIRMED: EC2's code and wording when neither a block nor a pool is given.
    let block = req
        .cidr_block
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Ec2Error::MissingParameter("CidrBlock".into()))?;
    let cidr = vpc::vpc_block(block)?;
    let tenancy = req
        .instance_tenancy
        .clone()
        .unwrap_or_else(|| "default".into());
    if tenancy != "default" && tenancy != "dedicated" {
        return Err(Ec2Error::invalid_enum(
            &tenancy,
            "InstanceTenancy",
            &["default", "dedicated"],
        ));
    }
    let tags = tags_for(&req.tag_specifications, "vpc", &["vpc"])?;
    dry_run(req.dry_run)?;
    let v = Vpc {
        vpc_id: ids::new_id(ids::VPC, random()),
        cidr,
        is_default: false,
        instance_tenancy: tenancy,
        tags,
    };
    ctx.api.store.create_vpc(&ctx.scope, v.clone()).await?;
    // EC2 answers `pending`; the VPC is `available` by the next DescribeVpcs.
    Ok(json!({ "Vpc": vpc_json(&v, ctx, "pending") }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteVpcIn {
    pub(crate) vpc_id: Option<String>,
    dry_run: Option<bool>,
}

fn vpc_id_of(id: Option<String>) -> Result<String, Ec2Error> {
    let id = id
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Ec2Error::MissingParameter("VpcId".into()))?;
    if !ids::is_well_formed(&id, ids::VPC) {
        return Err(Ec2Error::InvalidVpcIdNotFound(id));
    }
    Ok(id)
}

/// DeleteVpc: not while it has subnets (`DependencyViolation`), nor the default VPC (it keeps
/// its default subnets).
pub async fn delete_vpc(ctx: &Ctx<'_>, req: DeleteVpcIn) -> Result<Value, Ec2Error> {
    let id = vpc_id_of(req.vpc_id)?;
    let is_dry = req.dry_run == Some(true);
    ctx.api
        .store
        .delete_vpc(
            &ctx.scope,
            &id,
            Box::new(move |v, subnets| {
                vpc::check_vpc_deletable(v, subnets)?;
                dry_run(Some(is_dry))
            }),
        )
        .await?;
    Ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVpcsIn {
    #[serde(default)]
    vpc_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

/// EC2 also answers the camelCase spellings the Terraform provider sends (`isDefault`,
/// `availabilityZone`, `defaultForAz`, `cidrBlock`), which its documentation does not list.
const VPC_FILTERS: &[&str] = &[
    "vpc-id",
    "is-default",
    "isDefault",
    "state",
    "cidr",
    "cidr-block-association.cidr-block",
    "cidr-block-association.association-id",
    "cidr-block-association.state",
    "dhcp-options-id",
    "owner-id",
    "instance-tenancy",
    "tag-key",
    "tag-value",
];

fn vpc_attributes(v: &Vpc, ctx: &Ctx<'_>) -> Vec<(String, String)> {
    let block = v.cidr.to_string();
    let mut a = attrs(&[
        ("vpc-id", v.vpc_id.clone()),
        ("is-default", v.is_default.to_string()),
        ("isDefault", v.is_default.to_string()),
        ("state", "available".into()),
        ("cidr", block.clone()),
        ("cidr-block-association.cidr-block", block),
        (
            "cidr-block-association.association-id",
            format!("vpc-cidr-assoc-{}", suffix(&v.vpc_id)),
        ),
        ("cidr-block-association.state", "associated".into()),
        ("dhcp-options-id", dhcp_options_id(&ctx.scope.region)),
        ("owner-id", ctx.scope.account.clone()),
        ("instance-tenancy", v.instance_tenancy.clone()),
    ]);
    a.extend(tag_attributes(&v.tags));
    a
}

pub async fn describe_vpcs(ctx: &Ctx<'_>, req: DescribeVpcsIn) -> Result<Value, Ec2Error> {
    let limit = max_results(req.max_results)?;
    super::page_after("vpcs", &req.next_token)?;
    let all = all_vpcs(ctx).await?;
    let existing: Vec<String> = all.iter().map(|v| v.vpc_id.clone()).collect();
    check_ids(
        &req.vpc_ids,
        &existing,
        ids::VPC,
        Ec2Error::InvalidVpcIdNotFound,
    )?;
    let vpcs = filtered(
        named(all, &req.vpc_ids, |v| &v.vpc_id),
        req.filters,
        VPC_FILTERS,
        |v| vpc_attributes(v, ctx),
    )?;
    dry_run(req.dry_run)?;
    let items = vpcs.iter().map(|v| vpc_json(v, ctx, "available")).collect();
    page_in_memory("Vpcs", "vpcs", items, &req.next_token, limit)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVpcAttributeIn {
    vpc_id: Option<String>,
    attribute: Option<String>,
    dry_run: Option<bool>,
}

/// DescribeVpcAttribute: DNS support is on in every VPC; DNS hostnames are on in the default
/// VPC and off in one you create; Network Address Usage metrics are off (VPC User Guide,
/// "DNS attributes for your VPC": "enableDnsHostnames … false by default for VPCs you create,
/// true for the default VPC").
pub async fn describe_vpc_attribute(
    ctx: &Ctx<'_>,
    req: DescribeVpcAttributeIn,
) -> Result<Value, Ec2Error> {
    let attribute = req
        .attribute
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Ec2Error::MissingParameter("Attribute".into()))?;
    let vpc_id = req
        .vpc_id
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Ec2Error::MissingParameter("VpcId".into()))?;
    let all = all_vpcs(ctx).await?;
    let existing: Vec<String> = all.iter().map(|v| v.vpc_id.clone()).collect();
    check_ids(
        std::slice::from_ref(&vpc_id),
        &existing,
        ids::VPC,
        Ec2Error::InvalidVpcIdNotFound,
    )?;
    let is_default = all.iter().any(|v| v.vpc_id == vpc_id && v.is_default);
    let (member, value) = match attribute.as_str() {
        "enableDnsSupport" => ("EnableDnsSupport", true),
        "enableDnsHostnames" => ("EnableDnsHostnames", is_default),
        "enableNetworkAddressUsageMetrics" => ("EnableNetworkAddressUsageMetrics", false),
        other => {
            return Err(Ec2Error::invalid_enum(
                other,
                "Attribute",
                &["enableDnsSupport", "enableDnsHostnames"],
            ))
        }
    };
    dry_run(req.dry_run)?;
    Ok(json!({ "VpcId": vpc_id, member: { "Value": value } }))
}
