//! VPCs and subnets: the Region's default VPC (the catalogue's) and those the account creates
//! (CreateVpc, DeleteVpc, CreateSubnet, DeleteSubnet), and what a VPC brings along as EC2
//! makes it: its main route table, default network ACL and default security group, the
//! Region's default DHCP options. DescribeVpcs, DescribeSubnets, DescribeVpcAttribute,
//! DescribeRouteTables, DescribeNetworkAcls and DescribeSecurityGroups list them; Terraform's
//! `aws_vpc` reads all of these after each change.
//!
//! The rules for blocks, zones and deletion are the model's (`model::vpc`). These listings
//! are built in memory (a Region holds few VPCs) and paged by offset.

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

/// A subnet a request names (RunInstances' `SubnetId`).
pub async fn subnet_by_id(ctx: &Ctx<'_>, id: &str) -> Result<Subnet, Ec2Error> {
    all_subnets(ctx)
        .await?
        .into_iter()
        .find(|s| s.subnet_id == id)
        .ok_or_else(|| Ec2Error::InvalidSubnetIdNotFound(id.to_string()))
}

/// The block of a VPC of the scope (the instance metadata shows it).
pub async fn vpc_cidr_of(ctx: &Ctx<'_>, vpc_id: &str) -> Result<model::cidr::Cidr, Ec2Error> {
    all_vpcs(ctx)
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
    tag_specifications: Vec<TagSpecificationIn>,
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
    vpc_id: Option<String>,
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

// ------------------------------------------------------------------- subnets

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSubnetIn {
    vpc_id: Option<String>,
    cidr_block: Option<String>,
    availability_zone: Option<String>,
    availability_zone_id: Option<String>,
    ipv6_cidr_block: Option<String>,
    ipv6_native: Option<bool>,
    ipv4_ipam_pool_id: Option<String>,
    ipv6_ipam_pool_id: Option<String>,
    outpost_arn: Option<String>,
    #[serde(default)]
    tag_specifications: Vec<TagSpecificationIn>,
    dry_run: Option<bool>,
}

fn subnet_json(s: &Subnet, ctx: &Ctx<'_>, available: u64) -> Value {
    let account = &ctx.scope.account;
    with_tags(
        json!({
            "AvailabilityZone": s.availability_zone,
            "AvailabilityZoneId": s.availability_zone_id,
            "AvailableIpAddressCount": available,
            "CidrBlock": s.cidr.to_string(),
            "DefaultForAz": s.default_for_az,
            "MapPublicIpOnLaunch": s.map_public_ip_on_launch(),
            "MapCustomerOwnedIpOnLaunch": false,
            "State": "available",
            "SubnetId": s.subnet_id,
            "VpcId": s.vpc_id,
            "OwnerId": account,
            "AssignIpv6AddressOnCreation": false,
            "Ipv6CidrBlockAssociationSet": [],
            "SubnetArn": format!("arn:aws:ec2:{}:{}:subnet/{}", ctx.scope.region, account, s.subnet_id),
            "EnableDns64": false,
            "Ipv6Native": false,
            "PrivateDnsNameOptionsOnLaunch": {
                "HostnameType": "ip-name",
                "EnableResourceNameDnsARecord": false,
                "EnableResourceNameDnsAAAARecord": false,
            },
            "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
        }),
        &s.tags,
    )
}

/// CreateSubnet: a block of /16 to /28 inside its VPC's, overlapping none of the VPC's other
/// subnets, in a zone of the Region (named, or chosen). Its addresses are the block's but the
/// five reserved ones.
pub async fn create_subnet(ctx: &Ctx<'_>, req: CreateSubnetIn) -> Result<Value, Ec2Error> {
    let vpc_id = vpc_id_of(req.vpc_id)?;
    if req.ipv6_cidr_block.is_some()
        || req.ipv6_native == Some(true)
        || req.ipv4_ipam_pool_id.is_some()
        || req.ipv6_ipam_pool_id.is_some()
        || req.outpost_arn.is_some()
    {
        return Err(Ec2Error::UnsupportedOperation(
            "imds keeps IPv4 subnets only: IPv6, IPAM pools and Outposts are not supported.".into(),
        ));
    }
    let block = req
        .cidr_block
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Ec2Error::MissingParameter("CidrBlock".into()))?;
    let zone = vpc::subnet_zone(
        &catalogue::zones(&ctx.scope.region),
        req.availability_zone.as_deref().filter(|z| !z.is_empty()),
        req.availability_zone_id
            .as_deref()
            .filter(|z| !z.is_empty()),
        random(),
    )?;
    let tags = tags_for(&req.tag_specifications, "subnet", &["subnet"])?;
    let is_dry = req.dry_run == Some(true);
    let subnet_id = ids::new_id(ids::SUBNET, random());
    let s = ctx
        .api
        .store
        .create_subnet(
            &ctx.scope,
            &vpc_id,
            Box::new(move |vpc, siblings| {
                let cidr = vpc::subnet_block(&block, vpc, siblings)?;
                dry_run(Some(is_dry))?;
                Ok(Subnet {
                    subnet_id,
                    vpc_id: vpc.vpc_id.clone(),
                    availability_zone: zone.name,
                    availability_zone_id: zone.id,
                    cidr,
                    default_for_az: false,
                    tags,
                })
            }),
        )
        .await?;
    Ok(json!({ "Subnet": subnet_json(&s, ctx, s.cidr.usable_count()) }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSubnetIn {
    subnet_id: Option<String>,
    dry_run: Option<bool>,
}

/// DeleteSubnet: not while an instance that is not terminated is in it. The default subnets
/// are the catalogue's and stay (an imds departure: EC2 lets you delete them).
pub async fn delete_subnet(ctx: &Ctx<'_>, req: DeleteSubnetIn) -> Result<Value, Ec2Error> {
    let id = req
        .subnet_id
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Ec2Error::MissingParameter("SubnetId".into()))?;
    if !ids::is_well_formed(&id, ids::SUBNET) {
        return Err(Ec2Error::InvalidSubnetIdNotFound(id));
    }
    let is_dry = req.dry_run == Some(true);
    ctx.api
        .store
        .delete_subnet(
            &ctx.scope,
            &id,
            Box::new(move |s, held| {
                vpc::check_subnet_deletable(s, held)?;
                if s.default_for_az {
                    return Err(Ec2Error::UnsupportedOperation(
                        "imds keeps the default subnets of the default VPC.".into(),
                    ));
                }
                dry_run(Some(is_dry))
            }),
        )
        .await?;
    Ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSubnetsIn {
    #[serde(default)]
    subnet_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const SUBNET_FILTERS: &[&str] = &[
    "subnet-id",
    "vpc-id",
    "availability-zone",
    "availabilityZone",
    "availability-zone-id",
    "availabilityZoneId",
    "default-for-az",
    "defaultForAz",
    "state",
    "cidr-block",
    "cidr",
    "cidrBlock",
    "owner-id",
    "map-public-ip-on-launch",
    "subnet-arn",
    "tag-key",
    "tag-value",
];

fn subnet_attributes(s: &Subnet, ctx: &Ctx<'_>) -> Vec<(String, String)> {
    let block = s.cidr.to_string();
    let mut a = attrs(&[
        ("subnet-id", s.subnet_id.clone()),
        ("vpc-id", s.vpc_id.clone()),
        ("availability-zone", s.availability_zone.clone()),
        ("availabilityZone", s.availability_zone.clone()),
        ("availability-zone-id", s.availability_zone_id.clone()),
        ("availabilityZoneId", s.availability_zone_id.clone()),
        ("default-for-az", s.default_for_az.to_string()),
        ("defaultForAz", s.default_for_az.to_string()),
        ("state", "available".into()),
        ("cidr-block", block.clone()),
        ("cidr", block.clone()),
        ("cidrBlock", block),
        ("owner-id", ctx.scope.account.clone()),
        (
            "map-public-ip-on-launch",
            s.map_public_ip_on_launch().to_string(),
        ),
        (
            "subnet-arn",
            format!(
                "arn:aws:ec2:{}:{}:subnet/{}",
                ctx.scope.region, ctx.scope.account, s.subnet_id
            ),
        ),
    ]);
    a.extend(tag_attributes(&s.tags));
    a
}

pub async fn describe_subnets(ctx: &Ctx<'_>, req: DescribeSubnetsIn) -> Result<Value, Ec2Error> {
    let limit = max_results(req.max_results)?;
    super::page_after("subnets", &req.next_token)?;
    let all = all_subnets(ctx).await?;
    let existing: Vec<String> = all.iter().map(|s| s.subnet_id.clone()).collect();
    check_ids(
        &req.subnet_ids,
        &existing,
        ids::SUBNET,
        Ec2Error::InvalidSubnetIdNotFound,
    )?;
    let subnets = filtered(
        named(all, &req.subnet_ids, |s| &s.subnet_id),
        req.filters,
        SUBNET_FILTERS,
        |s| subnet_attributes(s, ctx),
    )?;
    dry_run(req.dry_run)?;
    let ids: Vec<String> = subnets.iter().map(|s| s.subnet_id.clone()).collect();
    let usage = ctx.api.store.subnet_usage(&ids).await?;
    let items = subnets
        .iter()
        .map(|s| {
            // EC2 counts the addresses neither reserved nor held by an instance (API
            // reference, Subnet: "The number of unused private IPv4 addresses").
            let held = usage.get(&s.subnet_id).copied().unwrap_or(0);
            subnet_json(s, ctx, s.cidr.usable_count().saturating_sub(held))
        })
        .collect();
    page_in_memory("Subnets", "subnets", items, &req.next_token, limit)
}

// ------------------------------------------------------------------- what a VPC brings

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRouteTablesIn {
    #[serde(default)]
    route_table_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const ROUTE_TABLE_FILTERS: &[&str] = &[
    "route-table-id",
    "vpc-id",
    "association.main",
    "association.route-table-id",
    "association.route-table-association-id",
    "owner-id",
    "route.destination-cidr-block",
    "route.gateway-id",
    "route.state",
    "route.origin",
    "tag-key",
];

/// (destination, gateway, origin) of a VPC's main table: the local route; the default VPC
/// also routes 0.0.0.0/0 to its internet gateway (VPC User Guide, "Default VPCs"; a VPC
/// you create has no gateway until you attach one).
fn routes(v: &Vpc) -> Vec<(String, String, &'static str)> {
    let mut out = vec![(v.cidr.to_string(), "local".into(), "CreateRouteTable")];
    if v.is_default {
        out.push((
            "0.0.0.0/0".into(),
            format!("igw-{}", suffix(&v.vpc_id)),
            "CreateRoute",
        ));
    }
    out
}

/// Each VPC's main route table (stable ids derived from the VPC's).
pub async fn describe_route_tables(
    ctx: &Ctx<'_>,
    req: DescribeRouteTablesIn,
) -> Result<Value, Ec2Error> {
    let limit = max_results(req.max_results)?;
    super::page_after("routes", &req.next_token)?;
    let all = all_vpcs(ctx).await?;
    let existing: Vec<String> = all.iter().map(|v| main_route_table(&v.vpc_id)).collect();
    check_ids(
        &req.route_table_ids,
        &existing,
        "rtb",
        Ec2Error::InvalidRouteTableIdNotFound,
    )?;
    let account = ctx.scope.account.clone();
    let tables = filtered(all, req.filters, ROUTE_TABLE_FILTERS, |v| {
        let table = main_route_table(&v.vpc_id);
        let mut a = attrs(&[
            ("route-table-id", table.clone()),
            ("vpc-id", v.vpc_id.clone()),
            ("association.main", "true".into()),
            ("association.route-table-id", table),
            (
                "association.route-table-association-id",
                format!("rtbassoc-{}", suffix(&v.vpc_id)),
            ),
            ("owner-id", account.clone()),
            ("route.state", "active".into()),
        ]);
        for (dest, gw, origin) in routes(v) {
            a.push(("route.destination-cidr-block".into(), dest));
            a.push(("route.gateway-id".into(), gw));
            a.push(("route.origin".into(), origin.into()));
        }
        a
    })?;
    dry_run(req.dry_run)?;
    let items = tables
        .iter()
        .filter(|v| {
            req.route_table_ids.is_empty()
                || req.route_table_ids.contains(&main_route_table(&v.vpc_id))
        })
        .map(|v| {
            let table = main_route_table(&v.vpc_id);
            json!({
                "RouteTableId": table,
                "VpcId": v.vpc_id,
                "OwnerId": account,
                "Associations": [{
                    "Main": true,
                    "RouteTableAssociationId": format!("rtbassoc-{}", suffix(&v.vpc_id)),
                    "RouteTableId": table,
                    "AssociationState": {"State": "associated"},
                }],
                "PropagatingVgws": [],
                "Routes": routes(v).into_iter().map(|(dest, gw, origin)| json!({
                    "DestinationCidrBlock": dest, "GatewayId": gw,
                    "Origin": origin, "State": "active",
                })).collect::<Vec<_>>(),
                "Tags": [],
            })
        })
        .collect();
    page_in_memory("RouteTables", "routes", items, &req.next_token, limit)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNetworkAclsIn {
    #[serde(default)]
    network_acl_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const NETWORK_ACL_FILTERS: &[&str] = &[
    "network-acl-id",
    "vpc-id",
    "default",
    "association.subnet-id",
    "association.network-acl-id",
    "owner-id",
    "tag-key",
];

/// Each VPC's default network ACL: it allows all traffic in and out (rule 100) before the
/// final deny (rule `*`, 32767), and every subnet of the VPC is associated with it (VPC User
/// Guide, "Default network ACL").
pub async fn describe_network_acls(
    ctx: &Ctx<'_>,
    req: DescribeNetworkAclsIn,
) -> Result<Value, Ec2Error> {
    let limit = max_results(req.max_results)?;
    super::page_after("acls", &req.next_token)?;
    let vpcs = all_vpcs(ctx).await?;
    let subnets = all_subnets(ctx).await?;
    let existing: Vec<String> = vpcs
        .iter()
        .map(|v| default_network_acl(&v.vpc_id))
        .collect();
    check_ids(&req.network_acl_ids, &existing, "acl", |id| {
        Ec2Error::InvalidParameterValue(format!("The networkAcl ID '{id}' does not exist"))
    })?;
    let account = ctx.scope.account.clone();
    let of =
        |v: &Vpc| -> Vec<&Subnet> { subnets.iter().filter(|s| s.vpc_id == v.vpc_id).collect() };
    let acls = filtered(
        vpcs.iter()
            .filter(|v| {
                req.network_acl_ids.is_empty()
                    || req
                        .network_acl_ids
                        .contains(&default_network_acl(&v.vpc_id))
            })
            .collect::<Vec<_>>(),
        req.filters,
        NETWORK_ACL_FILTERS,
        |v| {
            let acl = default_network_acl(&v.vpc_id);
            let mut a = attrs(&[
                ("network-acl-id", acl.clone()),
                ("vpc-id", v.vpc_id.clone()),
                ("default", "true".into()),
                ("owner-id", account.clone()),
            ]);
            for s in of(v) {
                a.push(("association.subnet-id".into(), s.subnet_id.clone()));
                a.push(("association.network-acl-id".into(), acl.clone()));
            }
            a
        },
    )?;
    dry_run(req.dry_run)?;
    let entry = |egress: bool, number: i64, action: &str| {
        json!({"CidrBlock": "0.0.0.0/0", "Egress": egress, "Protocol": "-1",
               "RuleAction": action, "RuleNumber": number})
    };
    let items = acls
        .iter()
        .map(|v| {
            let acl = default_network_acl(&v.vpc_id);
            json!({
                "Associations": of(v).iter().map(|s| json!({
                    "NetworkAclAssociationId": format!("aclassoc-{}", suffix(&s.subnet_id)),
                    "NetworkAclId": acl,
                    "SubnetId": s.subnet_id,
                })).collect::<Vec<_>>(),
                "Entries": [
                    entry(true, 100, "allow"), entry(true, 32767, "deny"),
                    entry(false, 100, "allow"), entry(false, 32767, "deny"),
                ],
                "IsDefault": true,
                "NetworkAclId": acl,
                "Tags": [],
                "VpcId": v.vpc_id,
                "OwnerId": account,
            })
        })
        .collect();
    page_in_memory("NetworkAcls", "acls", items, &req.next_token, limit)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSecurityGroupsIn {
    #[serde(default)]
    group_ids: Vec<String>,
    #[serde(default)]
    group_names: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const SECURITY_GROUP_FILTERS: &[&str] = &[
    "group-id",
    "group-name",
    "vpc-id",
    "owner-id",
    "description",
    "tag-key",
];

/// Each VPC's default security group: all traffic from members of the group, all traffic
/// out (VPC User Guide, "Default security groups for your VPCs"). `GroupName` names groups
/// of the default VPC only, as on EC2.
pub async fn describe_security_groups(
    ctx: &Ctx<'_>,
    req: DescribeSecurityGroupsIn,
) -> Result<Value, Ec2Error> {
    let limit = max_results(req.max_results)?;
    super::page_after("groups", &req.next_token)?;
    let vpcs = all_vpcs(ctx).await?;
    for id in &req.group_ids {
        if !vpcs
            .iter()
            .any(|v| default_security_group(&v.vpc_id) == *id)
        {
            return Err(Ec2Error::InvalidGroupNotFound(id.clone()));
        }
    }
    if let Some(name) = req.group_names.iter().find(|n| n.as_str() != "default") {
        return Err(Ec2Error::InvalidGroupNotFound(name.clone()));
    }
    let account = ctx.scope.account.clone();
    let groups = filtered(
        vpcs.iter()
            .filter(|v| {
                (req.group_ids.is_empty()
                    || req.group_ids.contains(&default_security_group(&v.vpc_id)))
                    && (req.group_names.is_empty() || v.is_default)
            })
            .collect::<Vec<_>>(),
        req.filters,
        SECURITY_GROUP_FILTERS,
        |v| {
            attrs(&[
                ("group-id", default_security_group(&v.vpc_id)),
                ("group-name", "default".into()),
                ("vpc-id", v.vpc_id.clone()),
                ("owner-id", account.clone()),
                ("description", "default VPC security group".into()),
            ])
        },
    )?;
    dry_run(req.dry_run)?;
    let items = groups
        .iter()
        .map(|v| {
            let id = default_security_group(&v.vpc_id);
            json!({
                "GroupId": id,
                "GroupName": "default",
                "Description": "default VPC security group",
                "OwnerId": account,
                "VpcId": v.vpc_id,
                "SecurityGroupArn": format!("arn:aws:ec2:{}:{}:security-group/{}", ctx.scope.region, account, id),
                "IpPermissions": [{
                    "IpProtocol": "-1",
                    "UserIdGroupPairs": [{"GroupId": id, "UserId": account}],
                    "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                }],
                "IpPermissionsEgress": [{
                    "IpProtocol": "-1",
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    "UserIdGroupPairs": [], "Ipv6Ranges": [], "PrefixListIds": [],
                }],
            })
        })
        .collect();
    page_in_memory("SecurityGroups", "groups", items, &req.next_token, limit)
}
