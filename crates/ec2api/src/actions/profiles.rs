//! IAM instance profile associations: AssociateIamInstanceProfile,
//! ReplaceIamInstanceProfileAssociation, DisassociateIamInstanceProfile and
//! DescribeIamInstanceProfileAssociations, EC2's way to give a role to an instance after launch
//! (EC2 User Guide, "Attach an IAM role to an instance"). The rules are the model's
//! (`model::profile_association`); the metadata host settles each change once it serves it.

use super::launch::{iam_profile, IamInstanceProfileIn};
use super::listing::{states_where, InstanceListing};
use super::{filters, instance_id, max_results, now_ms, random, update_named_instances, FilterIn};
use crate::context::Ctx;
use crate::render;
use model::filter::{self, Filter};
use model::ids;
use model::instance::{Instance, InstanceState, ASSOCIATION_ATTRIBUTE};
use model::profile_association::{ProfileAssociation, ASSOCIATION};
use model::Ec2Error;
use serde::Deserialize;
use serde_json::{json, Value};

/// `IamInstanceProfileAssociation` as EC2 answers it. `timestamp` is in the model and the API
/// Reference ("The time the IAM instance profile was associated with the instance"); the
/// Reference's older sample responses predate it (UNCONFIRMED whether every action sends it).
fn association(instance_id: &str, a: &ProfileAssociation) -> Value {
    json!({
        "AssociationId": a.association_id,
        "InstanceId": instance_id,
        "IamInstanceProfile": {"Arn": a.profile.arn, "Id": a.profile.id},
        "State": a.state.as_str(),
        "Timestamp": render::timestamp(a.timestamp_ms),
    })
}

/// The answer of the three changes: the association the request made or changed.
fn answer(i: &Instance) -> Result<Value, Ec2Error> {
    let a = i
        .profile_association
        .as_ref()
        .ok_or(Ec2Error::InternalError)?;
    Ok(json!({ "IamInstanceProfileAssociation": association(&i.instance_id, a) }))
}

/// An association id as a request gives it. A value that is not one (an instance id, say)
/// is `InvalidParameterValue` "Invalid value for associationId." (aws/aws-cli#2570, observed
/// for ReplaceIamInstanceProfileAssociation).
fn association_id(id: &Option<String>) -> Result<String, Ec2Error> {
    match id.as_deref() {
        None | Some("") => Err(Ec2Error::MissingParameter("AssociationId".into())),
        Some(id) if ids::is_well_formed(id, ASSOCIATION) => Ok(id.to_string()),
        Some(_) => Err(Ec2Error::InvalidParameterValue(
            "Invalid value for associationId.".into(),
        )),
    }
}

/// The instance of an association of the caller's account and Region, or
/// `InvalidAssociationID.NotFound`.
async fn instance_of_association(ctx: &Ctx<'_>, id: &str) -> Result<Instance, Ec2Error> {
    let page = ctx
        .api
        .store
        .describe_instances(
            &ctx.scope,
            &store::InstanceQuery {
                filters: vec![filter::Filter {
                    name: ASSOCIATION_ATTRIBUTE.into(),
                    values: vec![id.to_string()],
                }],
                ..Default::default()
            },
        )
        .await?;
    page.instances
        .into_iter()
        .find(|i| {
            i.profile_association
                .as_ref()
                .is_some_and(|a| a.association_id == id && a.is_live())
        })
        .ok_or_else(|| Ec2Error::InvalidAssociationIdNotFound(id.to_string()))
}

/// The profile a request names: required, and known to IAM as RunInstances requires it
/// (`Invalid IAM Instance Profile ARN` / `name`, observed for AssociateIamInstanceProfile in
/// lacework/go-sdk#1045).
fn requested_profile(
    ctx: &Ctx<'_>,
    spec: &Option<IamInstanceProfileIn>,
) -> Result<model::instance::IamProfileRef, Ec2Error> {
    let spec = spec
        .as_ref()
        .ok_or_else(|| Ec2Error::MissingParameter("IamInstanceProfile".into()))?;
    iam_profile(ctx, spec)
}

/// One instance changed by `f`, given what the handler checked before the write (authorized
/// inside the write, see [`update_named_instances`]); its (after) record.
async fn change<T: Send + 'static>(
    ctx: &Ctx<'_>,
    id: String,
    checked: Result<T, Ec2Error>,
    mut f: impl FnMut(&mut Instance, &T) -> Result<(), Ec2Error> + Send + 'static,
) -> Result<Instance, Ec2Error> {
    let mut changed =
        update_named_instances(ctx, &[id], checked, move |t| Box::new(move |i, _| f(i, &t)))
            .await?;
    changed
        .pop()
        .map(|(_, after)| after)
        .ok_or(Ec2Error::InternalError)
}

/// The instance of the association a request names (Replace, Disassociate), found before
/// the write that changes it, with what the handler checked. When there is none (or the id
/// is not an association's), the request's authorization is decided on no instance (on
/// `instance/*`), then the handler's own errors come, then that the association is unknown:
/// the order of answers when authorization came before the handler.
async fn association_instance<T>(
    ctx: &Ctx<'_>,
    named: &Option<String>,
    checked: Result<T, Ec2Error>,
) -> Result<(String, Result<T, Ec2Error>), Ec2Error> {
    let checked = match (checked, &ctx.authorize_in_write) {
        (Err(e), None) => return Err(e),
        (checked, _) => checked,
    };
    let found = match association_id(named) {
        Ok(a) => instance_of_association(ctx, &a).await,
        Err(e) => Err(e),
    };
    match found {
        Ok(i) => Ok((i.instance_id, checked)),
        Err(e) => {
            ctx.gate(checked.map(|_| ()))(&[])?;
            Err(e)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateIn {
    pub(crate) iam_instance_profile: Option<IamInstanceProfileIn>,
    pub(crate) instance_id: Option<String>,
}

pub async fn associate_iam_instance_profile(
    ctx: &Ctx<'_>,
    req: AssociateIn,
) -> Result<Value, Ec2Error> {
    let checked = match req.instance_id.as_deref() {
        Some(i) if !i.is_empty() => instance_id(i).map(drop),
        _ => Err(Ec2Error::MissingParameter("InstanceId".into())),
    }
    .and_then(|()| requested_profile(ctx, &req.iam_instance_profile));
    let named = req.instance_id.clone().unwrap_or_default();
    let now = now_ms();
    let after = change(ctx, named, checked, move |i, profile| {
        let new_id = ids::new_id(ASSOCIATION, random());
        i.associate_profile(profile.clone(), new_id, now)
            .map(|_| ())
    })
    .await?;
    answer(&after)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplaceIn {
    pub(crate) iam_instance_profile: Option<IamInstanceProfileIn>,
    pub(crate) association_id: Option<String>,
}

pub async fn replace_iam_instance_profile_association(
    ctx: &Ctx<'_>,
    req: ReplaceIn,
) -> Result<Value, Ec2Error> {
    let checked = association_id(&req.association_id).and_then(|association| {
        Ok((
            association,
            requested_profile(ctx, &req.iam_instance_profile)?,
        ))
    });
    let (id, checked) = association_instance(ctx, &req.association_id, checked).await?;
    let now = now_ms();
    let after = change(ctx, id, checked, move |i, (association, profile)| {
        let new_id = ids::new_id(ASSOCIATION, random());
        i.replace_profile(association, profile.clone(), new_id, now)
            .map(|_| ())
    })
    .await?;
    answer(&after)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisassociateIn {
    pub(crate) association_id: Option<String>,
}

pub async fn disassociate_iam_instance_profile(
    ctx: &Ctx<'_>,
    req: DisassociateIn,
) -> Result<Value, Ec2Error> {
    let checked = association_id(&req.association_id);
    let (id, checked) = association_instance(ctx, &req.association_id, checked).await?;
    let after = change(ctx, id, checked, |i, association| {
        i.disassociate_profile(association).map(|_| ())
    })
    .await?;
    answer(&after)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeIn {
    #[serde(default)]
    association_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The filters of DescribeIamInstanceProfileAssociations (EC2 API Reference).
const ASSOCIATION_FILTERS: &[&str] = &["instance-id", "state"];

const ASSOCIATIONS_TOKEN: &str = "iip-assoc";

/// Every association of the caller's instances (terminated instances have none left:
/// UNCONFIRMED, how long EC2 lists them), in launch order, filtered, a page at a time.
pub async fn describe_iam_instance_profile_associations(
    ctx: &Ctx<'_>,
    req: DescribeIn,
) -> Result<Value, Ec2Error> {
    for id in &req.association_ids {
        association_id(&Some(id.clone()))?;
    }
    let limit = max_results(req.max_results)?;
    super::page_after(ASSOCIATIONS_TOKEN, &req.next_token)?;
    let filters = filters(req.filters)?;
    filter::validate(&filters, ASSOCIATION_FILTERS)?;
    // The store selects the instances not terminated (they have none left), with the
    // associations and instances asked for; the association's own state is checked here.
    let mut on_instances = vec![states_where(|s| s != InstanceState::Terminated)];
    if !req.association_ids.is_empty() {
        on_instances.push(Filter {
            name: ASSOCIATION_ATTRIBUTE.into(),
            values: req.association_ids.clone(),
        });
        // Ids asked for must exist (UNCONFIRMED: EC2's answer for an unknown one); reading
        // them costs as many instances as ids.
        let found = ctx
            .api
            .store
            .describe_instances(
                &ctx.scope,
                &store::InstanceQuery {
                    filters: on_instances.clone(),
                    ..Default::default()
                },
            )
            .await?;
        if let Some(missing) = req.association_ids.iter().find(|id| {
            !found.instances.iter().any(|i| {
                i.profile_association
                    .as_ref()
                    .is_some_and(|a| a.association_id == **id)
            })
        }) {
            return Err(Ec2Error::InvalidAssociationIdNotFound(missing.clone()));
        }
    }
    let (by_instance, by_state): (Vec<Filter>, Vec<Filter>) =
        filters.into_iter().partition(|f| f.name == "instance-id");
    on_instances.extend(by_instance);
    let listing = InstanceListing {
        kind: ASSOCIATIONS_TOKEN,
        ids: None,
        filters: on_instances,
        limit,
    };
    listing
        .page(
            ctx,
            "IamInstanceProfileAssociations",
            &req.next_token,
            |i| {
                let a = i.profile_association.as_ref()?;
                let state = [("state".to_string(), a.state.as_str().to_string())];
                filter::passes(&by_state, &state).then(|| association(&i.instance_id, a))
            },
        )
        .await
}
