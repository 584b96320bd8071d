//! Subnets: CreateSubnet, DeleteSubnet, DescribeSubnets, with the model's rules for blocks
//! and zones (`model::vpc`).

use super::*;
use crate::actions::network::{attrs, filtered};
use crate::actions::{
    dry_run, max_results, page_in_memory, random, tags_for, FilterIn, TagSpecificationIn,
};
use crate::context::Ctx;
use model::catalogue;
use model::ids;
use model::vpc::{self, Subnet};
use model::Ec2Error;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSubnetIn {
    pub(crate) vpc_id: Option<String>,
    cidr_block: Option<String>,
    availability_zone: Option<String>,
    availability_zone_id: Option<String>,
    ipv6_cidr_block: Option<String>,
    ipv6_native: Option<bool>,
    ipv4_ipam_pool_id: Option<String>,
    ipv6_ipam_pool_id: Option<String>,
    outpost_arn: Option<String>,
    #[serde(default)]
    pub(crate) tag_specifications: Vec<TagSpecificationIn>,
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
            "SubnetArn": model::Arn::subnet(&ctx.scope.region, account, &s.subnet_id).to_string(),
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
    pub(crate) subnet_id: Option<String>,
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
            model::Arn::subnet(&ctx.scope.region, &ctx.scope.account, &s.subnet_id).to_string(),
        ),
    ]);
    a.extend(tag_attributes(&s.tags));
    a
}

pub async fn describe_subnets(ctx: &Ctx<'_>, req: DescribeSubnetsIn) -> Result<Value, Ec2Error> {
    let limit = max_results(req.max_results)?;
    crate::actions::page_after("subnets", &req.next_token)?;
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
