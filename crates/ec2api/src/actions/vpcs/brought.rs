//! What a VPC brings along as EC2 makes it: its main route table, default network ACL and
//! default security group (DescribeRouteTables, DescribeNetworkAcls, DescribeSecurityGroups).

use super::*;
use crate::actions::network::{attrs, filtered};
use crate::actions::{dry_run, max_results, page_in_memory, FilterIn};
use crate::context::Ctx;
use model::vpc::{Subnet, Vpc};
use model::Ec2Error;
use serde::Deserialize;
use serde_json::{json, Value};

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
    crate::actions::page_after("routes", &req.next_token)?;
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
    crate::actions::page_after("acls", &req.next_token)?;
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
    crate::actions::page_after("groups", &req.next_token)?;
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
                "SecurityGroupArn": model::Arn::security_group(&ctx.scope.region, &account, &id).to_string(),
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
