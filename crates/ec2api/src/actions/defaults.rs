//! GetInstanceMetadataDefaults and ModifyInstanceMetadataDefaults (spec ec2-api.md §7).

use super::dry_run;
use crate::context::Ctx;
use model::defaults::DefaultsPatch;
use model::Ec2Error;
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetIn {
    dry_run: Option<bool>,
}

pub async fn get_instance_metadata_defaults(ctx: &Ctx<'_>, req: GetIn) -> Result<Value, Ec2Error> {
    dry_run(req.dry_run)?;
    let stored = ctx.api.store.defaults(&ctx.scope).await?;
    let d = ctx
        .api
        .principals
        .defaults_in_force(&ctx.scope.account, stored);
    // A field at no preference is omitted; `managedBy` is always there.
    let mut level = Map::new();
    if let Some(t) = d.http_tokens {
        level.insert("HttpTokens".into(), json!(t.as_str()));
    }
    if let Some(h) = d.hop_limit {
        level.insert("HttpPutResponseHopLimit".into(), json!(h.get()));
    }
    if let Some(e) = d.http_endpoint {
        level.insert("HttpEndpoint".into(), json!(e.as_str()));
    }
    if let Some(t) = d.instance_metadata_tags {
        level.insert("InstanceMetadataTags".into(), json!(t.as_str()));
    }
    level.insert("ManagedBy".into(), json!(d.managed_by.as_str()));
    if let Some(m) = &d.managed_exception_message {
        level.insert("ManagedExceptionMessage".into(), json!(m));
    }
    if let Some(e) = d.http_tokens_enforced {
        level.insert("HttpTokensEnforced".into(), json!(e.as_str()));
    }
    Ok(json!({ "AccountLevel": level }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyIn {
    pub(crate) http_tokens: Option<String>,
    pub(crate) http_put_response_hop_limit: Option<i64>,
    pub(crate) http_endpoint: Option<String>,
    pub(crate) instance_metadata_tags: Option<String>,
    pub(crate) http_tokens_enforced: Option<String>,
    pub(crate) dry_run: Option<bool>,
}

crate::authz::members!(ModifyIn, "ModifyInstanceMetadataDefaults", {
    "HttpTokens" => http_tokens,
    "HttpPutResponseHopLimit" => http_put_response_hop_limit,
    "HttpEndpoint" => http_endpoint,
    "InstanceMetadataTags" => instance_metadata_tags,
    "DryRun" => dry_run,
    "HttpTokensEnforced" => http_tokens_enforced,
});

pub async fn modify_instance_metadata_defaults(
    ctx: &Ctx<'_>,
    req: ModifyIn,
) -> Result<Value, Ec2Error> {
    let patch = DefaultsPatch::parse(
        req.http_tokens.as_deref(),
        req.http_put_response_hop_limit,
        req.http_endpoint.as_deref(),
        req.instance_metadata_tags.as_deref(),
        req.http_tokens_enforced.as_deref(),
    )?;
    let is_dry = req.dry_run == Some(true);
    if let Some(managed) = ctx.api.principals.managed(&ctx.scope.account) {
        // Nothing is stored while a declarative policy manages the defaults. A DryRun still
        // answers DryRunOperation: the policy is no IAM check (UNCONFIRMED, spec §2.3).
        dry_run(Some(is_dry))?;
        managed.may_change()?;
    }
    ctx.api
        .store
        .modify_defaults(
            &ctx.scope,
            Box::new(move |d| {
                d.apply(&patch)?;
                dry_run(Some(is_dry))
            }),
        )
        .await?;
    Ok(json!({ "Return": true }))
}
