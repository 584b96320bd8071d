//! The EC2 dialect: the action named, its parameters decoded along botocore's model and typed
//! once ([`Request`]), the caller's policies asked on that typed input (with `--iam-config`:
//! before the handler, or inside its write for the actions that change the instances they
//! name), the action's handler run, and its output encoded along the model; errors in EC2's
//! envelope.

use crate::actions::{self, Action, Request, AUTHORIZED_IN_WRITE};
use crate::authz::{Authorization, InWrite};
use crate::context::{Call, Ctx};
use crate::error::AwsError;
use crate::protocol::query;
use crate::protocol::xml;
use crate::reply::{Reply, EC2_XML};
use model::{Ec2Error, Instance, Scope};
use store::StoreError;

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
    let request = Request::parse(action, input)?;
    let mut ctx = Ctx {
        api: call.api,
        scope: Scope::new(call.caller.account.clone(), call.caller.region.clone()),
        caller: call.caller,
        authorize_in_write: None,
    };
    // With --iam-config: the caller's policies decide (see authz), before the handler or,
    // for the actions that change the instances they name, inside the handler's write.
    if call.api.iam_enforced() {
        let authorization = authorization(&ctx, &request, call.source_ip).await;
        if AUTHORIZED_IN_WRITE.contains(&action) {
            ctx.authorize_in_write = Some(InWrite::new(authorization));
        } else {
            authorization.decide(&named_instances(&ctx, &authorization).await?)?;
        }
    }
    // 3..8: validation, lookup, state checks, dry run, execution: the action's handler.
    let output = actions::dispatch(&ctx, request).await?;
    if ctx
        .authorize_in_write
        .as_ref()
        .is_some_and(|a| !a.decided())
    {
        tracing::error!(action = action.name(), "answered without its authorization");
        return Err(Ec2Error::InternalError);
    }
    xml::encode_output(action.name(), call.request_id, output).map_err(|e| {
        tracing::error!(error = %e, action = action.name(), "response encoding");
        Ec2Error::InternalError
    })
}

/// The authorization of `request`: RunInstances as its launch template completes it.
async fn authorization(
    ctx: &Ctx<'_>,
    request: &Request,
    source_ip: Option<std::net::IpAddr>,
) -> Authorization {
    let (principals, caller) = (ctx.api.principals.clone(), ctx.caller.clone());
    match request {
        Request::RunInstances(launch) => {
            let completed = actions::run_instances_for_authorization(ctx, launch).await;
            Authorization::new(
                principals,
                caller,
                source_ip,
                &Request::RunInstances(completed),
            )
        }
        _ => Authorization::new(principals, caller, source_ip, request),
    }
}

/// The existing instances a request authorized before its handler names
/// (DescribeInstanceAttribute and RebootInstances, which only read them), read with store
/// errors answered as such. An unknown one leaves none: the decision is made without instance
/// keys, and the handler then reports the unknown id.
async fn named_instances(
    ctx: &Ctx<'_>,
    authorization: &Authorization,
) -> Result<Vec<Instance>, Ec2Error> {
    let ids = authorization.instance_ids();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    match ctx.api.store.instances(&ctx.scope, &ids).await {
        Ok(found) => Ok(found),
        Err(StoreError::Refused(Ec2Error::InvalidInstanceIdNotFound(_))) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}
