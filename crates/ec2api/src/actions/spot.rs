//! Spot requests: DescribeSpotInstanceRequests and CancelSpotInstanceRequests over the
//! requests RunInstances made for its Spot instances (one per instance, `SpotMarket`). The
//! request is the instance's: its state and status follow from the instance's
//! (`SpotMarket::request_status`), so nothing else is stored but a cancellation.
//! Terraform's `aws_instance` with `instance_market_options` reads the request on every
//! refresh, so without these a Spot instance could not be planned or destroyed.

use super::listing::InstanceListing;
use super::network::attrs;
use super::{dry_run, filters, ids_without_max, max_results_up_to, FilterIn};
use crate::context::Ctx;
use crate::render;
use model::events::SpotMarket;
use model::filter::{self, Filter};
use model::instance::Instance;
use model::Ec2Error;
use serde::Deserialize;
use serde_json::{json, Value};

/// DescribeSpotInstanceRequests' filters imds answers (botocore lists more).
const SPOT_FILTERS: &[&str] = &[
    "spot-instance-request-id",
    "instance-id",
    "state",
    "status-code",
    "type",
    "instance-interruption-behavior",
    "launched-availability-zone",
    "launch.instance-type",
    "launch.image-id",
    "product-description",
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSpotInstanceRequestsIn {
    #[serde(default)]
    spot_instance_request_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CancelSpotInstanceRequestsIn {
    #[serde(default)]
    spot_instance_request_ids: Vec<String>,
    dry_run: Option<bool>,
}

/// The instance filter that keeps the instances of these requests (or every Spot instance).
fn spot_instances(ids: &[String]) -> Filter {
    if ids.is_empty() {
        Filter {
            name: "instance-lifecycle".into(),
            values: vec!["spot".into()],
        }
    } else {
        Filter {
            name: "spot-instance-request-id".into(),
            values: ids.to_vec(),
        }
    }
}

fn request_of(i: &Instance) -> Option<(&SpotMarket, model::events::spot::RequestStatus)> {
    let m = i.market.as_ref()?;
    let status = m.request_status(
        i.state,
        i.state_reason.as_ref().map(|r| r.code),
        i.events.notice.is_some(),
    );
    Some((m, status))
}

fn request_attributes(i: &Instance) -> Vec<(String, String)> {
    let Some((m, s)) = request_of(i) else {
        return Vec::new();
    };
    attrs(&[
        ("spot-instance-request-id", m.request_id.clone()),
        ("instance-id", i.instance_id.clone()),
        ("state", s.state.into()),
        ("status-code", s.code.into()),
        ("type", m.request_type.as_str().into()),
        ("instance-interruption-behavior", m.behavior.as_str().into()),
        ("launched-availability-zone", i.availability_zone.clone()),
        ("launch.instance-type", i.instance_type.clone()),
        ("launch.image-id", i.image_id.clone()),
        ("product-description", "Linux/UNIX".into()),
    ])
}

/// A `SpotInstanceRequest`. `SpotPrice` only when the launch set a maximum (EC2 shows the
/// On-Demand price otherwise, which imds's catalogue does not have).
fn request(i: &Instance) -> Option<Value> {
    let (m, s) = request_of(i)?;
    let mut spec = json!({
        "ImageId": i.image_id,
        "InstanceType": i.instance_type,
        "Placement": {"AvailabilityZone": i.availability_zone, "Tenancy": "default"},
        "SubnetId": i.subnet_id,
        "SecurityGroups": render::groups(i),
        "Monitoring": {"Enabled": i.monitoring},
        "EbsOptimized": i.ebs_optimized,
    });
    if let Some(k) = &i.key_name {
        spec["KeyName"] = json!(k);
    }
    let mut v = json!({
        "SpotInstanceRequestId": m.request_id,
        "InstanceId": i.instance_id,
        "State": s.state,
        "Status": {"Code": s.code, "Message": s.message,
                   "UpdateTime": render::timestamp(i.launch_time_ms)},
        "Type": m.request_type.as_str(),
        "InstanceInterruptionBehavior": m.behavior.as_str(),
        "CreateTime": render::timestamp(i.launch_time_ms),
        "LaunchSpecification": spec,
        "LaunchedAvailabilityZone": i.availability_zone,
        "ProductDescription": "Linux/UNIX",
        "Tags": [],
    });
    if let Some(p) = &m.max_price {
        v["SpotPrice"] = json!(p);
    }
    if let Some(t) = m.valid_until_ms {
        v["ValidUntil"] = json!(render::timestamp(t));
    }
    Some(v)
}

/// Every id named must be one of the caller's requests.
fn check_found(named: &[String], found: &[String]) -> Result<(), Ec2Error> {
    match named.iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(Ec2Error::InvalidSpotInstanceRequestIdNotFound(
            missing.clone(),
        )),
        None => Ok(()),
    }
}

/// DescribeSpotInstanceRequests: the caller's Spot requests (those of terminated instances
/// too, while the instances are kept), filtered, a page at a time.
pub async fn describe_spot_instance_requests(
    ctx: &Ctx<'_>,
    req: DescribeSpotInstanceRequestsIn,
) -> Result<Value, Ec2Error> {
    let named = req.spot_instance_request_ids;
    ids_without_max(&named, req.max_results, "SpotInstanceRequestId")?;
    let limit = max_results_up_to(req.max_results, 1000)?;
    super::page_after("spot", &req.next_token)?;
    let filters = filters(req.filters)?;
    filter::validate(&filters, SPOT_FILTERS)?;
    let listing = InstanceListing {
        kind: "spot",
        ids: None,
        filters: vec![spot_instances(&named)],
        limit,
    };
    let mut found = Vec::new();
    let out = listing
        .page(ctx, "SpotInstanceRequests", &req.next_token, |i| {
            found.extend(i.market.as_ref().map(|m| m.request_id.clone()));
            filter::passes(&filters, &request_attributes(i))
                .then(|| request(i))
                .flatten()
        })
        .await?;
    check_found(&named, &found)?;
    dry_run(req.dry_run)?;
    Ok(out)
}

/// CancelSpotInstanceRequests: the requests go `cancelled`; their instances keep running
/// (user guide: cancelling a request does not terminate its instances).
pub async fn cancel_spot_instance_requests(
    ctx: &Ctx<'_>,
    req: CancelSpotInstanceRequestsIn,
) -> Result<Value, Ec2Error> {
    let named = req.spot_instance_request_ids;
    if named.is_empty() {
        return Err(Ec2Error::MissingParameter(
            "The request must contain the parameter SpotInstanceRequestId".into(),
        ));
    }
    let page = ctx
        .api
        .store
        .describe_instances(
            &ctx.scope,
            &store::InstanceQuery {
                filters: vec![spot_instances(&named)],
                ..Default::default()
            },
        )
        .await?;
    let found: Vec<String> = page
        .instances
        .iter()
        .filter_map(|i| i.market.as_ref().map(|m| m.request_id.clone()))
        .collect();
    check_found(&named, &found)?;
    dry_run(req.dry_run)?;
    let ids: Vec<String> = page
        .instances
        .iter()
        .map(|i| i.instance_id.clone())
        .collect();
    ctx.api
        .store
        .update_instances(
            &ctx.scope,
            &ids,
            ctx.gate(Ok(())),
            Box::new(|i, _| {
                if let Some(m) = i.market.as_mut() {
                    m.cancelled = true;
                }
                Ok(())
            }),
        )
        .await?;
    let cancelled: Vec<Value> = named
        .iter()
        .map(|id| json!({"SpotInstanceRequestId": id, "State": "cancelled"}))
        .collect();
    Ok(json!({ "CancelledSpotInstanceRequests": cancelled }))
}
