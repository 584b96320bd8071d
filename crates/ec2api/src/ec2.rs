//! The EC2 dialect: the action named, its parameters decoded along botocore's model, the
//! caller's policies asked (with `--iam-config`), the action's handler run, and its output
//! encoded along the model; errors in EC2's envelope.

use crate::actions::{self, Action, Request};
use crate::auth::Caller;
use crate::context::{Api, Call, Ctx};
use crate::error::AwsError;
use crate::protocol::query;
use crate::protocol::xml;
use crate::reply::{Reply, EC2_XML};
use model::{Ec2Error, Scope};

/// Answer one EC2 call.
pub async fn handle(call: &Call<'_>) -> Reply {
    match answer(call).await {
        Ok(xml) => Reply::ok(EC2_XML, xml),
        Err(e) => {
            tracing::debug!(code = e.code(), message = %e, "error answer");
            e.render(call.request_id)
        }
    }
}

async fn answer(call: &Call<'_>) -> Result<String, Ec2Error> {
    // 2. action known, parameters known, required present
    let action_name = match call.params.get("Action") {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => return Err(Ec2Error::MissingAction),
    };
    tracing::debug!(
        action = %action_name,
        params = ?call.params.pairs().iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        "request"
    );
    tracing::trace!(params = ?call.params.pairs(), "request parameters");
    let action =
        Action::parse(&action_name).ok_or_else(|| Ec2Error::InvalidAction(action_name.clone()))?;
    let input = query::decode(action.name(), call.params)?;
    let request = Request::parse(action, input.clone())?;
    let ctx = Ctx {
        api: call.api,
        scope: Scope::new(call.caller.account.clone(), call.caller.region.clone()),
        caller: call.caller,
    };
    // With --iam-config: the caller's policies decide (see authz).
    if call.api.iam_enforced() {
        authorize(&ctx, action, &input, call.source_ip).await?;
    }
    // 3..8: validation, lookup, state checks, dry run, execution: the action's handler.
    let output = actions::dispatch(&ctx, request).await?;
    xml::encode(action.name(), call.request_id, &output).map_err(|e| {
        tracing::error!(error = %e, action = action.name(), "response encoding");
        Ec2Error::InternalError
    })
}

/// Authorization, after decoding and before the handler: the checks of `action` on its typed
/// input (the launch as the template completes it, for RunInstances), with the facts they
/// need from the store and the registry.
async fn authorize(
    ctx: &Ctx<'_>,
    action: Action,
    input: &serde_json::Value,
    source_ip: Option<std::net::IpAddr>,
) -> Result<(), Ec2Error> {
    let seen = if action == Action::RunInstances {
        actions::run_instances_for_authorization(ctx, input).await
    } else {
        input.clone()
    };
    let instances = match (ids_named(input), association_named(input)) {
        _ if !crate::authz::checks_instances(action.name()) => Vec::new(),
        (_, Some(association)) => actions::instance_of_association(ctx, &association)
            .await
            .map(|i| vec![i])
            .unwrap_or_default(),
        (ids, None) if ids.is_empty() => Vec::new(),
        (ids, None) => ctx
            .api
            .store
            .instances(&ctx.scope, &ids)
            .await
            .unwrap_or_default(),
    };
    let facts = crate::authz::Facts {
        source_ip,
        instances: &instances,
        passed_role: passed_role(ctx.api, ctx.caller, &seen),
    };
    crate::authz::authorize(
        &ctx.api.principals,
        action.name(),
        &seen,
        ctx.caller,
        &facts,
    )
}

/// The instance ids a request names (`InstanceId`, `InstanceIds`).
fn ids_named(input: &serde_json::Value) -> Vec<String> {
    let one = input
        .get("InstanceId")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    let many = input
        .get("InstanceIds")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string));
    one.into_iter().chain(many).collect()
}

/// The IAM instance profile association a request names (Replace, Disassociate), when it is
/// one: authorization checks the request on that association's instance.
fn association_named(input: &serde_json::Value) -> Option<String> {
    input
        .get("AssociationId")
        .and_then(serde_json::Value::as_str)
        .filter(|a| model::ids::is_well_formed(a, model::profile_association::ASSOCIATION))
        .map(str::to_string)
}

/// The ARN of the role a launch (or an association, or its replacement) passes to its
/// instance through an instance profile.
fn passed_role(api: &Api, caller: &Caller, input: &serde_json::Value) -> Option<String> {
    let p = input.get("IamInstanceProfile")?;
    let field = |k: &str| p.get(k).and_then(serde_json::Value::as_str);
    let registry = api.principals.registry();
    let account = registry.account(&caller.account)?;
    let role = account
        .profile_by_ref(field("Arn"), field("Name"))?
        .roles
        .first()?;
    account.roles.get(role).map(|r| account.role_arn(r))
}
