//! One variant per EC2 operation imds serves ([`Action`]; [`Request`], the same with its typed
//! input), and the handlers, grouped by the resource they act on. The decoded input (a JSON
//! object keyed by the model's member names) is deserialized once into the request's typed
//! input, which authorization reads and [`dispatch`] hands to the action's handler; a handler
//! returns its output as JSON keyed the same way, or, when it lists instances, as an
//! [`Output`] whose long list is rendered item by item as it is encoded.

mod attributes;
mod defaults;
mod images;
mod instances;
mod launch;
mod listing;
pub(crate) use launch::run_instances_for_authorization;
pub use launch::{launch_first_instance, FirstLaunch};
mod metadata_options;
mod network;
mod profiles;
mod spot;
mod tags;
mod templates;
mod vpcs;

use crate::context::Ctx;
use crate::protocol::output::Output;
use base64::Engine;
use model::filter::Filter;
use model::Ec2Error;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

macro_rules! actions {
    ($($variant:ident($input:ty) => $handler:path),* $(,)?) => {
        /// The operations imds implements; any other action is `InvalidAction`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action { $($variant),* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];
            pub fn parse(name: &str) -> Option<Action> {
                match name { $(stringify!($variant) => Some(Action::$variant),)* _ => None }
            }
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => stringify!($variant)),* }
            }
        }

        /// One EC2 request: the action and its typed input, deserialized once from the
        /// decoded parameters, then authorized and handled on that same input.
        // One per request, moved into its handler once: boxing the large inputs
        // (RunInstances) would only add an allocation.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug)]
        pub enum Request { $($variant($input)),* }

        impl Request {
            /// The typed input of `action` from its decoded parameters (a JSON object keyed
            /// by the model's member names). The decoder already checked names and scalar
            /// types against the model, so a failure here is a member whose JSON type differs
            /// from the typed input's: `InvalidParameterValue` with serde's message.
            pub fn parse(action: Action, input: Value) -> Result<Request, Ec2Error> {
                Ok(match action { $(Action::$variant => Request::$variant(parse(input)?)),* })
            }
            pub fn action(&self) -> Action {
                match self { $(Request::$variant(_) => Action::$variant),* }
            }
        }

        /// Run the request's handler.
        pub async fn dispatch(ctx: &Ctx<'_>, request: Request) -> Result<Output, Ec2Error> {
            match request { $(Request::$variant(input) => $handler(ctx, input).await.map(Into::into)),* }
        }
    };
}

actions! {
    RunInstances(launch::RunInstancesIn) => launch::run_instances,
    DescribeInstances(instances::DescribeInstancesIn) => instances::describe_instances,
    StartInstances(instances::InstanceIdsIn) => instances::start_instances,
    StopInstances(instances::InstanceIdsIn) => instances::stop_instances,
    RebootInstances(instances::InstanceIdsIn) => instances::reboot_instances,
    TerminateInstances(instances::InstanceIdsIn) => instances::terminate_instances,
    DescribeInstanceStatus(instances::DescribeInstanceStatusIn) => instances::describe_instance_status,
    ModifyInstanceEventStartTime(instances::ModifyInstanceEventStartTimeIn) => instances::modify_instance_event_start_time,
    DescribeSpotInstanceRequests(spot::DescribeSpotInstanceRequestsIn) => spot::describe_spot_instance_requests,
    CancelSpotInstanceRequests(spot::CancelSpotInstanceRequestsIn) => spot::cancel_spot_instance_requests,
    ModifyInstanceMetadataOptions(metadata_options::ModifyInstanceMetadataOptionsIn) => metadata_options::modify_instance_metadata_options,
    GetInstanceMetadataDefaults(defaults::GetIn) => defaults::get_instance_metadata_defaults,
    ModifyInstanceMetadataDefaults(defaults::ModifyIn) => defaults::modify_instance_metadata_defaults,
    CreateTags(tags::TagsIn) => tags::create_tags,
    DeleteTags(tags::TagsIn) => tags::delete_tags,
    DescribeTags(tags::DescribeTagsIn) => tags::describe_tags,
    RegisterImage(images::RegisterImageIn) => images::register_image,
    DescribeImages(images::DescribeImagesIn) => images::describe_images,
    ModifyImageAttribute(images::ModifyImageAttributeIn) => images::modify_image_attribute,
    DescribeImageAttribute(images::DescribeImageAttributeIn) => images::describe_image_attribute,
    CreateLaunchTemplate(templates::CreateIn) => templates::create_launch_template,
    CreateLaunchTemplateVersion(templates::CreateVersionIn) => templates::create_launch_template_version,
    ModifyLaunchTemplate(templates::ModifyIn) => templates::modify_launch_template,
    DescribeLaunchTemplates(templates::DescribeIn) => templates::describe_launch_templates,
    DescribeLaunchTemplateVersions(templates::DescribeVersionsIn) => templates::describe_launch_template_versions,
    DeleteLaunchTemplate(templates::DeleteIn) => templates::delete_launch_template,
    DescribeInstanceAttribute(attributes::DescribeInstanceAttributeIn) => attributes::describe_instance_attribute,
    ModifyInstanceAttribute(attributes::ModifyInstanceAttributeIn) => attributes::modify_instance_attribute,
    DescribeInstanceCreditSpecifications(attributes::DescribeInstanceCreditSpecificationsIn) => attributes::describe_instance_credit_specifications,
    ModifyInstanceCreditSpecification(attributes::ModifyInstanceCreditSpecificationIn) => attributes::modify_instance_credit_specification,
    DescribeInstanceTypes(network::DescribeInstanceTypesIn) => network::describe_instance_types,
    DescribeVpcs(vpcs::DescribeVpcsIn) => vpcs::describe_vpcs,
    DescribeVpcAttribute(vpcs::DescribeVpcAttributeIn) => vpcs::describe_vpc_attribute,
    DescribeRouteTables(vpcs::DescribeRouteTablesIn) => vpcs::describe_route_tables,
    DescribeSubnets(vpcs::DescribeSubnetsIn) => vpcs::describe_subnets,
    CreateVpc(vpcs::CreateVpcIn) => vpcs::create_vpc,
    DeleteVpc(vpcs::DeleteVpcIn) => vpcs::delete_vpc,
    CreateSubnet(vpcs::CreateSubnetIn) => vpcs::create_subnet,
    DeleteSubnet(vpcs::DeleteSubnetIn) => vpcs::delete_subnet,
    DescribeNetworkAcls(vpcs::DescribeNetworkAclsIn) => vpcs::describe_network_acls,
    DescribeSecurityGroups(vpcs::DescribeSecurityGroupsIn) => vpcs::describe_security_groups,
    DescribeVolumes(network::DescribeVolumesIn) => network::describe_volumes,
    AssociateIamInstanceProfile(profiles::AssociateIn) => profiles::associate_iam_instance_profile,
    ReplaceIamInstanceProfileAssociation(profiles::ReplaceIn) => profiles::replace_iam_instance_profile_association,
    DisassociateIamInstanceProfile(profiles::DisassociateIn) => profiles::disassociate_iam_instance_profile,
    DescribeIamInstanceProfileAssociations(profiles::DescribeIn) => profiles::describe_iam_instance_profile_associations,
    DescribeNetworkInterfaces(network::DescribeNetworkInterfacesIn) => network::describe_network_interfaces,
}

/// Deserialize the decoded input into a typed request.
fn parse<T: DeserializeOwned>(input: Value) -> Result<T, Ec2Error> {
    serde_json::from_value(input).map_err(|e| Ec2Error::InvalidParameterValue(e.to_string()))
}

/// `Filter.N.Name` / `Filter.N.Value.M` as the model decodes them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterIn {
    pub name: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
}

pub fn filters(input: Vec<FilterIn>) -> Result<Vec<Filter>, Ec2Error> {
    input
        .into_iter()
        .map(|f| match f.name {
            Some(name) if !name.is_empty() => Ok(Filter {
                name,
                values: f.values,
            }),
            _ => Err(Ec2Error::InvalidParameterValue(
                "The filter 'null' is invalid".to_string(),
            )),
        })
        .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagIn {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagSpecificationIn {
    pub resource_type: Option<String>,
    #[serde(default)]
    pub tags: Vec<TagIn>,
}

/// The tags a TagSpecification list gives a resource type (validated).
pub fn tags_for(
    specs: &[TagSpecificationIn],
    resource_type: &str,
    allowed: &[&str],
) -> Result<Vec<model::tags::Tag>, Ec2Error> {
    let mut out: Vec<model::tags::Tag> = Vec::new();
    for s in specs {
        let rt = s.resource_type.as_deref().unwrap_or("");
        if !allowed.contains(&rt) {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "'{rt}' is not a valid taggable resource type for this operation."
            )));
        }
        if rt != resource_type {
            continue;
        }
        for t in &s.tags {
            let tag = model::tags::Tag {
                key: t.key.clone().unwrap_or_default(),
                value: t.value.clone().unwrap_or_default(),
            };
            model::tags::validate(&tag)?;
            model::tags::upsert(&mut out, std::slice::from_ref(&tag))?;
        }
    }
    Ok(out)
}

/// An instance id as a request gives it: well-formed, or `InvalidInstanceID.Malformed`.
pub fn instance_id(id: &str) -> Result<String, Ec2Error> {
    if model::ids::is_well_formed(id, model::ids::INSTANCE) {
        Ok(id.to_string())
    } else {
        Err(Ec2Error::InvalidInstanceIdMalformed(id.to_string()))
    }
}

pub fn instance_ids(ids: &[String], param: &str) -> Result<Vec<String>, Ec2Error> {
    if ids.is_empty() || ids.iter().any(String::is_empty) {
        return Err(Ec2Error::MissingParameter(param.to_string()));
    }
    ids.iter().map(|i| instance_id(i)).collect()
}

/// Pagination tokens are opaque to clients: a position, base64-encoded with a prefix naming
/// what it pages, so a token from one listing is refused by another.
pub fn encode_token(kind: &str, position: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{position}"))
}

/// The position a `NextToken` resumes after; none (or an empty one) starts at the beginning.
pub fn page_after(kind: &str, token: &Option<String>) -> Result<Option<i64>, Ec2Error> {
    match token.as_deref() {
        Some(t) if !t.is_empty() => decode_token(kind, t).map(Some),
        _ => Ok(None),
    }
}

pub fn decode_token(kind: &str, token: &str) -> Result<i64, Ec2Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix(&format!("{kind}:"))
                .and_then(|p| p.parse().ok())
        })
        .ok_or_else(|| {
            Ec2Error::InvalidPaginationToken(format!("Invalid pagination token: {token}"))
        })
}

/// `MaxResults` of the Describe calls: 5..=1000 (spec ec2-api.md §6).
pub fn max_results(v: Option<i64>) -> Result<Option<u32>, Ec2Error> {
    max_results_up_to(v, 1000)
}

/// `MaxResults` of a Describe call whose model caps it lower (DescribeInstanceTypes: 100,
/// DescribeVolumes: 500).
pub fn max_results_up_to(v: Option<i64>, most: i64) -> Result<Option<u32>, Ec2Error> {
    match v {
        None => Ok(None),
        Some(n) if n < 5 => Err(Ec2Error::InvalidParameterValue(format!(
            "Value ( {n} ) for parameter maxResults is invalid. Expecting a value greater than 5."
        ))),
        Some(n) if n > most => Err(Ec2Error::InvalidParameterValue(format!(
            "Value ( {n} ) for parameter maxResults is invalid. Expecting a value less than {most}."
        ))),
        Some(n) => Ok(Some(n as u32)),
    }
}

/// The output of a Describe call whose listing is built in memory: the items after the
/// position `token` names (an offset), at most `limit`, under `member`, with `NextToken`
/// while more remain.
pub fn page_in_memory(
    member: &str,
    kind: &str,
    items: Vec<Value>,
    token: &Option<String>,
    limit: Option<u32>,
) -> Result<Value, Ec2Error> {
    let offset = page_after(kind, token)?.unwrap_or(0).max(0) as usize;
    let end = limit.map_or(items.len(), |l| (offset + l as usize).min(items.len()));
    let page: Vec<Value> = items
        .get(offset..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut out = serde_json::json!({ member: page });
    if end < items.len() {
        out["NextToken"] = Value::String(encode_token(kind, end as i64));
    }
    Ok(out)
}

/// Ids given together with `MaxResults`: EC2 refuses the pair (`parameter` names the list as
/// the error message does, e.g. `instancesSet`, `volumeSet`).
pub fn ids_without_max(ids: &[String], max: Option<i64>, parameter: &str) -> Result<(), Ec2Error> {
    if !ids.is_empty() && max.is_some() {
        return Err(Ec2Error::InvalidParameterCombination(format!(
            "The parameter {parameter} cannot be used with the parameter maxResults"
        )));
    }
    Ok(())
}

/// The answer of an allowed dry run.
pub fn dry_run(flag: Option<bool>) -> Result<(), Ec2Error> {
    if flag == Some(true) {
        Err(Ec2Error::DryRunOperation)
    } else {
        Ok(())
    }
}

/// A fresh 64-bit random for ids.
pub fn random() -> u64 {
    rand::random()
}

pub fn now_ms() -> i64 {
    model::time::now_ms()
}

/// Change the instances a request names, its authorization decided inside the write
/// ([`Ctx::gate`]). `checked` is what the handler checked before the write, with what the
/// change needs: its error is reported after authorization (inside the write) or, when
/// there is no authorization to decide there, at once, as the handler would have.
pub(crate) async fn update_named_instances<T>(
    ctx: &Ctx<'_>,
    ids: &[String],
    checked: Result<T, Ec2Error>,
    change: impl FnOnce(T) -> store::InstanceMutation,
) -> Result<Vec<(model::instance::Instance, model::instance::Instance)>, Ec2Error> {
    let (checked, f) = match checked {
        Ok(t) => (Ok(()), change(t)),
        Err(e) if ctx.authorize_in_write.is_none() => return Err(e),
        // The gate refuses before any change is asked for.
        Err(e) => (
            Err(e),
            Box::new(|_: &mut _, _: &_| Err(Ec2Error::InternalError)) as _,
        ),
    };
    Ok(ctx
        .api
        .store
        .update_instances(&ctx.scope, ids, ctx.gate(checked), f)
        .await?)
}

/// The actions that change the existing instances they name: their authorization, which
/// carries those instances' keys, is decided inside the handler's write, on the instances as
/// it read them ([`update_named_instances`]).
pub(crate) const AUTHORIZED_IN_WRITE: &[Action] = &[
    Action::ModifyInstanceMetadataOptions,
    Action::ModifyInstanceAttribute,
    Action::StartInstances,
    Action::StopInstances,
    Action::TerminateInstances,
    Action::AssociateIamInstanceProfile,
    Action::ReplaceIamInstanceProfileAssociation,
    Action::DisassociateIamInstanceProfile,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_model_operations() {
        let m = crate::protocol::shapes::model();
        for a in Action::ALL {
            assert!(
                m.operations.contains_key(a.name()),
                "{} not in the model",
                a.name()
            );
        }
    }

    /// Each input that says which members it sets (for `ec2:Attribute`) knows every member
    /// of its operation's input shape in the model.
    #[test]
    fn members_know_every_member_of_the_model() {
        use crate::authz::unknown_members;
        let none = Vec::<String>::new();
        assert_eq!(
            unknown_members::<metadata_options::ModifyInstanceMetadataOptionsIn>(),
            none
        );
        assert_eq!(unknown_members::<defaults::ModifyIn>(), none);
        assert_eq!(
            unknown_members::<attributes::ModifyInstanceAttributeIn>(),
            none
        );
        assert_eq!(
            unknown_members::<attributes::DescribeInstanceAttributeIn>(),
            none
        );
        assert_eq!(unknown_members::<images::ModifyImageAttributeIn>(), none);
        assert_eq!(unknown_members::<images::DescribeImageAttributeIn>(), none);
    }

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        let t = encode_token("instances", 42);
        assert_eq!(decode_token("instances", &t).unwrap(), 42);
        assert!(decode_token("tags", &t).is_err());
        assert!(decode_token("instances", "garbage!").is_err());
    }
}
