//! DescribeInstanceAttribute, ModifyInstanceAttribute and the CPU credit options of
//! burstable instances (DescribeInstanceCreditSpecifications,
//! ModifyInstanceCreditSpecification): what Terraform's `aws_instance` reads and changes
//! besides the instance itself.

use super::listing::{states_where, InstanceListing};
use super::{
    dry_run, filters, ids_without_max, instance_id, instance_ids, max_results,
    update_named_instances, FilterIn,
};
use crate::context::Ctx;
use crate::render;
use model::filter;
use model::instance::{AttributeChange, Instance};
use model::launch::CpuCredits;
use model::Ec2Error;
use serde::Deserialize;
use serde_json::{json, Value};

/// The attributes DescribeInstanceAttribute answers (the model's `InstanceAttributeName`).
const ATTRIBUTES: &[&str] = &[
    "instanceType",
    "kernel",
    "ramdisk",
    "userData",
    "disableApiTermination",
    "instanceInitiatedShutdownBehavior",
    "rootDeviceName",
    "blockDeviceMapping",
    "productCodes",
    "sourceDestCheck",
    "groupSet",
    "ebsOptimized",
    "sriovNetSupport",
    "enaSupport",
    "enclaveOptions",
    "disableApiStop",
];

fn unknown_attribute(name: &str) -> Ec2Error {
    Ec2Error::InvalidParameterValue(format!(
        "Value ({name}) for parameter attribute is invalid. Unknown attribute."
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstanceAttributeIn {
    pub(crate) instance_id: Option<String>,
    pub(crate) attribute: Option<String>,
    dry_run: Option<bool>,
}

crate::authz::members!(DescribeInstanceAttributeIn, "DescribeInstanceAttribute", {
    "DryRun" => dry_run,
    "InstanceId" => instance_id,
    "Attribute" => attribute,
});

/// The instance id a request names: given and well-formed.
fn named_id(id: &Option<String>) -> Result<String, Ec2Error> {
    match id.as_deref() {
        Some(i) if !i.is_empty() => instance_id(i),
        _ => Err(Ec2Error::MissingParameter("InstanceId".into())),
    }
}

async fn one_instance(ctx: &Ctx<'_>, id: &Option<String>) -> Result<Instance, Ec2Error> {
    let id = named_id(id)?;
    let mut found = ctx.api.store.instances(&ctx.scope, &[id]).await?;
    found.pop().ok_or(Ec2Error::InternalError)
}

fn string_value(v: Option<&str>) -> Value {
    match v {
        Some(v) => json!({ "Value": v }),
        None => json!({}),
    }
}

/// The value of one attribute, under its output member name.
fn attribute_value(i: &Instance, name: &str) -> Option<(&'static str, Value)> {
    let boolean = |v: bool| json!({ "Value": v });
    Some(match name {
        "instanceType" => ("InstanceType", string_value(Some(&i.instance_type))),
        "kernel" => ("KernelId", json!({})),
        "ramdisk" => ("RamdiskId", json!({})),
        "userData" => ("UserData", string_value(i.user_data.as_deref())),
        "disableApiTermination" => ("DisableApiTermination", boolean(i.disable_api_termination)),
        "instanceInitiatedShutdownBehavior" => (
            "InstanceInitiatedShutdownBehavior",
            string_value(Some(i.shutdown_behavior.as_str())),
        ),
        "rootDeviceName" => ("RootDeviceName", string_value(Some(render::ROOT_DEVICE))),
        "blockDeviceMapping" => ("BlockDeviceMappings", render::block_device_mappings(i)),
        "productCodes" => ("ProductCodes", json!([])),
        "sourceDestCheck" => ("SourceDestCheck", boolean(i.source_dest_check)),
        "groupSet" => ("Groups", render::groups(i)),
        "ebsOptimized" => ("EbsOptimized", boolean(i.ebs_optimized)),
        "sriovNetSupport" => ("SriovNetSupport", json!({})),
        "enaSupport" => ("EnaSupport", boolean(true)),
        "enclaveOptions" => ("EnclaveOptions", json!({ "Enabled": false })),
        "disableApiStop" => ("DisableApiStop", boolean(i.disable_api_stop)),
        _ => return None,
    })
}

pub async fn describe_instance_attribute(
    ctx: &Ctx<'_>,
    req: DescribeInstanceAttributeIn,
) -> Result<Value, Ec2Error> {
    let name = req
        .attribute
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Ec2Error::MissingParameter("Attribute".into()))?;
    if !ATTRIBUTES.contains(&name.as_str()) {
        return Err(unknown_attribute(&name));
    }
    let i = one_instance(ctx, &req.instance_id).await?;
    dry_run(req.dry_run)?;
    let (member, value) = attribute_value(&i, &name).ok_or_else(|| unknown_attribute(&name))?;
    Ok(json!({ "InstanceId": i.instance_id, member: value }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BoolValueIn {
    value: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StringValueIn {
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyInstanceAttributeIn {
    pub(crate) instance_id: Option<String>,
    pub(crate) attribute: Option<String>,
    value: Option<String>,
    disable_api_termination: Option<BoolValueIn>,
    disable_api_stop: Option<BoolValueIn>,
    source_dest_check: Option<BoolValueIn>,
    ebs_optimized: Option<BoolValueIn>,
    instance_initiated_shutdown_behavior: Option<StringValueIn>,
    instance_type: Option<StringValueIn>,
    user_data: Option<StringValueIn>,
    #[serde(default)]
    groups: Vec<String>,
    /// Members imds does not model: refused rather than silently ignored.
    ena_support: Option<BoolValueIn>,
    sriov_net_support: Option<StringValueIn>,
    kernel: Option<StringValueIn>,
    ramdisk: Option<StringValueIn>,
    #[serde(default)]
    block_device_mappings: Vec<Value>,
    enclave_options: Option<Value>,
    dry_run: Option<bool>,
}

crate::authz::members!(ModifyInstanceAttributeIn, "ModifyInstanceAttribute", {
    "SourceDestCheck" => source_dest_check,
    "EnclaveOptions" => enclave_options,
    "DisableApiStop" => disable_api_stop,
    "DryRun" => dry_run,
    "InstanceId" => instance_id,
    "Attribute" => attribute,
    "Value" => value,
    "BlockDeviceMappings" => block_device_mappings,
    "DisableApiTermination" => disable_api_termination,
    "InstanceType" => instance_type,
    "Kernel" => kernel,
    "Ramdisk" => ramdisk,
    "UserData" => user_data,
    "InstanceInitiatedShutdownBehavior" => instance_initiated_shutdown_behavior,
    "Groups" => groups,
    "EbsOptimized" => ebs_optimized,
    "SriovNetSupport" => sriov_net_support,
    "EnaSupport" => ena_support,
});

fn boolean(attr: &str, v: &str) -> Result<bool, Ec2Error> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Ec2Error::InvalidParameterValue(format!(
            "Value ({v}) for parameter {attr} is invalid. Expecting true or false."
        ))),
    }
}

fn required_bool(attr: &str, v: &Option<BoolValueIn>) -> Result<Option<bool>, Ec2Error> {
    match v {
        None => Ok(None),
        Some(BoolValueIn { value: Some(b) }) => Ok(Some(*b)),
        Some(_) => Err(Ec2Error::MissingParameter(format!("{attr}.Value"))),
    }
}

/// The one change the request asks for, in either of its forms: a member per attribute
/// (`DisableApiTermination.Value=true`) or `Attribute=…&Value=…`.
fn requested_change(req: &ModifyInstanceAttributeIn) -> Result<AttributeChange, Ec2Error> {
    let mut found: Vec<(&str, AttributeChange)> = Vec::new();
    if let Some(v) = required_bool("DisableApiTermination", &req.disable_api_termination)? {
        found.push((
            "disableApiTermination",
            AttributeChange::DisableApiTermination(v),
        ));
    }
    if let Some(v) = required_bool("DisableApiStop", &req.disable_api_stop)? {
        found.push(("disableApiStop", AttributeChange::DisableApiStop(v)));
    }
    if let Some(v) = required_bool("SourceDestCheck", &req.source_dest_check)? {
        found.push(("sourceDestCheck", AttributeChange::SourceDestCheck(v)));
    }
    if let Some(v) = required_bool("EbsOptimized", &req.ebs_optimized)? {
        found.push(("ebsOptimized", AttributeChange::EbsOptimized(v)));
    }
    if let Some(v) = &req.instance_initiated_shutdown_behavior {
        found.push((
            "instanceInitiatedShutdownBehavior",
            shutdown_behavior(v.value.as_deref().unwrap_or(""))?,
        ));
    }
    if let Some(v) = &req.instance_type {
        found.push((
            "instanceType",
            AttributeChange::InstanceType(v.value.clone().unwrap_or_default()),
        ));
    }
    if let Some(v) = &req.user_data {
        found.push(("userData", user_data(v.value.as_deref())?));
    }
    if !req.groups.is_empty() {
        found.push(("groupSet", groups(&req.groups)?));
    }
    let unmodelled = [
        ("enaSupport", req.ena_support.is_some()),
        ("sriovNetSupport", req.sriov_net_support.is_some()),
        ("kernel", req.kernel.is_some()),
        ("ramdisk", req.ramdisk.is_some()),
        ("blockDeviceMapping", !req.block_device_mappings.is_empty()),
        ("enclaveOptions", req.enclave_options.is_some()),
    ];
    if let Some((name, _)) = unmodelled.iter().find(|(_, set)| *set) {
        return Err(Ec2Error::UnsupportedOperation(format!(
            "imds does not model the instance attribute {name}."
        )));
    }
    if let Some(name) = req.attribute.as_deref().filter(|a| !a.is_empty()) {
        let value = req.value.as_deref().unwrap_or("");
        let change = match name {
            "disableApiTermination" => {
                AttributeChange::DisableApiTermination(boolean(name, value)?)
            }
            "disableApiStop" => AttributeChange::DisableApiStop(boolean(name, value)?),
            "sourceDestCheck" => AttributeChange::SourceDestCheck(boolean(name, value)?),
            "ebsOptimized" => AttributeChange::EbsOptimized(boolean(name, value)?),
            "instanceInitiatedShutdownBehavior" => shutdown_behavior(value)?,
            "instanceType" => AttributeChange::InstanceType(value.to_string()),
            "userData" => user_data(Some(value))?,
            n if ATTRIBUTES.contains(&n) => {
                return Err(Ec2Error::UnsupportedOperation(format!(
                    "imds does not model the instance attribute {n}."
                )))
            }
            n => return Err(unknown_attribute(n)),
        };
        found.push((name, change));
    }
    match found.len() {
        0 => Err(Ec2Error::MissingParameter("Attribute".into())),
        1 => Ok(found.remove(0).1),
        _ => Err(Ec2Error::InvalidParameterCombination(format!(
            "Fields for multiple attribute types specified: {}",
            found.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ))),
    }
}

fn shutdown_behavior(v: &str) -> Result<AttributeChange, Ec2Error> {
    model::launch::ShutdownBehavior::parse(v).map(AttributeChange::ShutdownBehavior)
}

/// `UserData.Value` is a blob: base64 on the wire, kept as sent (as RunInstances keeps it).
fn user_data(v: Option<&str>) -> Result<AttributeChange, Ec2Error> {
    use base64::Engine;
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(AttributeChange::UserData(None)),
        Some(v) => {
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| {
                    Ec2Error::InvalidParameterValue("Invalid BASE64 encoding of user data.".into())
                })?;
            Ok(AttributeChange::UserData(Some(v.to_string())))
        }
    }
}

/// `GroupId.N`: security groups by id (imds keeps no group records but each VPC's default
/// group, so any well-formed id is accepted), each named by its id until [`in_vpc`] names
/// the instance's VPC's default group `default`.
fn groups(ids: &[String]) -> Result<AttributeChange, Ec2Error> {
    let mut out = Vec::new();
    for id in ids {
        if !model::ids::is_well_formed(id, model::ids::SECURITY_GROUP) {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Invalid id: \"{id}\" (expecting \"sg-...\")"
            )));
        }
        out.push((id.clone(), id.clone()));
    }
    Ok(AttributeChange::Groups(out))
}

/// `change` for an instance in `vpc_id`: the VPC's default group is named `default`. Asked
/// inside the write, with the instance the write read.
fn in_vpc(change: &AttributeChange, vpc_id: &str) -> AttributeChange {
    match change {
        AttributeChange::Groups(groups) => {
            let default = super::vpcs::default_security_group(vpc_id);
            AttributeChange::Groups(
                groups
                    .iter()
                    .map(|(id, _)| {
                        let name = if *id == default { "default" } else { id };
                        (id.clone(), name.to_string())
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

pub async fn modify_instance_attribute(
    ctx: &Ctx<'_>,
    req: ModifyInstanceAttributeIn,
) -> Result<Value, Ec2Error> {
    let checked = requested_change(&req).and_then(|change| {
        named_id(&req.instance_id)?;
        Ok(change)
    });
    let is_dry = req.dry_run == Some(true);
    let named = req.instance_id.clone().unwrap_or_default();
    update_named_instances(ctx, &[named], checked, |change| {
        Box::new(move |i, _| {
            // Security groups are those of the instance's own VPC.
            i.modify_attribute(&in_vpc(&change, &i.vpc_id))?;
            dry_run(Some(is_dry))
        })
    })
    .await?;
    Ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstanceCreditSpecificationsIn {
    #[serde(default)]
    instance_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

/// DescribeInstanceCreditSpecifications. Named instances are each reported; one that is not
/// burstable reads `standard` (the API reference says such an id is an error, but EC2
/// answers `standard`, as observed in k1LoW/awspec#404). Without ids, EC2 lists only the
/// instances whose credit option is `unlimited` (API reference). Filter: `instance-id`.
pub async fn describe_instance_credit_specifications(
    ctx: &Ctx<'_>,
    req: DescribeInstanceCreditSpecificationsIn,
) -> Result<Value, Ec2Error> {
    ids_without_max(&req.instance_ids, req.max_results, "instanceIds")?;
    let limit = max_results(req.max_results)?;
    super::page_after("credits", &req.next_token)?;
    let filters = filters(req.filters)?;
    filter::validate(&filters, &["instance-id"])?;
    let ids = if req.instance_ids.is_empty() {
        None
    } else {
        Some(instance_ids(&req.instance_ids, "InstanceId")?)
    };
    dry_run(req.dry_run)?;
    let named = ids.is_some();
    // Without ids, EC2 lists only `unlimited` instances: a credit option the store does not
    // index, so such a listing reads the instances not gone, a page at a time.
    let mut on_instances = filters;
    on_instances.push(states_where(|s| !s.is_gone()));
    let listing = InstanceListing {
        kind: "credits",
        ids,
        filters: on_instances,
        limit,
    };
    listing
        .page(ctx, "InstanceCreditSpecifications", &req.next_token, |i| {
            (named || i.cpu_credits == Some(CpuCredits::Unlimited)).then(|| {
                json!({
                    "InstanceId": i.instance_id,
                    "CpuCredits": i.reported_cpu_credits().as_str(),
                })
            })
        })
        .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreditSpecificationIn {
    instance_id: Option<String>,
    cpu_credits: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyInstanceCreditSpecificationIn {
    #[serde(default)]
    instance_credit_specifications: Vec<CreditSpecificationIn>,
    dry_run: Option<bool>,
}

/// ModifyInstanceCreditSpecification: `standard` or `unlimited` per burstable instance.
/// A bad credit value fails the request; an instance that cannot take it (malformed,
/// unknown, not burstable, terminated) is reported in the unsuccessful set and the others
/// change (EC2 API reference; item messages UNCONFIRMED).
pub async fn modify_instance_credit_specification(
    ctx: &Ctx<'_>,
    req: ModifyInstanceCreditSpecificationIn,
) -> Result<Value, Ec2Error> {
    if req.instance_credit_specifications.is_empty() {
        return Err(Ec2Error::MissingParameter(
            "InstanceCreditSpecification".into(),
        ));
    }
    let mut wanted: Vec<(String, CpuCredits)> = Vec::new();
    let mut failed: Vec<Value> = Vec::new();
    let failure = |id: &str, code: &str, message: String| json!({"InstanceId": id, "Error": {"Code": code, "Message": message}});
    for spec in &req.instance_credit_specifications {
        let id = spec.instance_id.clone().unwrap_or_default();
        let credits = CpuCredits::parse(spec.cpu_credits.as_deref().unwrap_or_default())?;
        match instance_id(&id) {
            Ok(id) => wanted.push((id, credits)),
            Err(e) => failed.push(failure(&id, "InvalidInstanceID.Malformed", e.to_string())),
        }
    }
    let mut ok: Vec<(String, CpuCredits)> = Vec::new();
    for (id, credits) in wanted {
        match ctx
            .api
            .store
            .instances(&ctx.scope, std::slice::from_ref(&id))
            .await
        {
            Ok(mut found) => match found.pop() {
                Some(mut i) => match i.set_cpu_credits(credits) {
                    Ok(()) => ok.push((id, credits)),
                    Err((code, message)) => failed.push(failure(&id, code, message)),
                },
                None => return Err(Ec2Error::InternalError),
            },
            Err(store::StoreError::Refused(e @ Ec2Error::InvalidInstanceIdNotFound(_))) => {
                failed.push(failure(&id, "InvalidInstanceID.NotFound", e.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
    }
    dry_run(req.dry_run)?;
    let ids: Vec<String> = ok.iter().map(|(id, _)| id.clone()).collect();
    if !ids.is_empty() {
        ctx.api
            .store
            .update_instances(
                &ctx.scope,
                &ids,
                store::ungated(),
                Box::new(move |i, _| {
                    let credits = ok
                        .iter()
                        .find(|(id, _)| *id == i.instance_id)
                        .map(|(_, c)| *c)
                        .unwrap_or(CpuCredits::Standard);
                    i.set_cpu_credits(credits)
                        .map_err(|(_, message)| Ec2Error::IncorrectInstanceState(message))
                }),
            )
            .await?;
    }
    let succeeded: Vec<Value> = ids.iter().map(|id| json!({ "InstanceId": id })).collect();
    Ok(json!({
        "SuccessfulInstanceCreditSpecifications": succeeded,
        "UnsuccessfulInstanceCreditSpecifications": failed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The groups of ModifyInstanceAttribute are named inside the write, in the VPC of the
    /// instance the write read: its default group is `default`, any other its id.
    #[test]
    fn groups_are_named_in_the_instances_vpc() {
        let vpc = "vpc-0123456789abcdef0";
        let default = super::super::vpcs::default_security_group(vpc);
        let other = "sg-0fedcba9876543210".to_string();
        let change = groups(&[default.clone(), other.clone()]).unwrap();
        let named = |vpc_id: &str| match in_vpc(&change, vpc_id) {
            AttributeChange::Groups(g) => g,
            c => panic!("{c:?}"),
        };
        assert_eq!(
            named(vpc),
            vec![
                (default.clone(), "default".into()),
                (other.clone(), other.clone())
            ]
        );
        assert_eq!(
            named("vpc-0aaaaaaaaaaaaaaaa"),
            vec![(default.clone(), default), (other.clone(), other)]
        );
        assert!(groups(&["nope".into()]).is_err());
    }
}
