//! ModifyInstanceMetadataOptions (spec ec2-api.md §3).

use super::{dry_run, instance_id, update_named_instances};
use crate::context::Ctx;
use crate::render;
use model::{Ec2Error, OptionsPatch};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyInstanceMetadataOptionsIn {
    pub(crate) instance_id: Option<String>,
    pub(crate) http_tokens: Option<String>,
    pub(crate) http_put_response_hop_limit: Option<i64>,
    pub(crate) http_endpoint: Option<String>,
    pub(crate) http_protocol_ipv6: Option<String>,
    pub(crate) instance_metadata_tags: Option<String>,
    pub(crate) dry_run: Option<bool>,
}

crate::authz::members!(ModifyInstanceMetadataOptionsIn, "ModifyInstanceMetadataOptions", {
    "InstanceId" => instance_id,
    "HttpTokens" => http_tokens,
    "HttpPutResponseHopLimit" => http_put_response_hop_limit,
    "HttpEndpoint" => http_endpoint,
    "DryRun" => dry_run,
    "HttpProtocolIpv6" => http_protocol_ipv6,
    "InstanceMetadataTags" => instance_metadata_tags,
});

pub async fn modify_instance_metadata_options(
    ctx: &Ctx<'_>,
    req: ModifyInstanceMetadataOptionsIn,
) -> Result<Value, Ec2Error> {
    let named = req.instance_id.clone().unwrap_or_default();
    let checked = match req.instance_id.as_deref() {
        None | Some("") => Err(Ec2Error::MissingParameter("InstanceId".into())),
        Some(id) => instance_id(id),
    }
    .and_then(|_| {
        OptionsPatch::parse(
            req.http_tokens.as_deref(),
            req.http_put_response_hop_limit,
            req.http_endpoint.as_deref(),
            req.http_protocol_ipv6.as_deref(),
            req.instance_metadata_tags.as_deref(),
            |p| p.to_string(),
        )
    });
    let is_dry = req.dry_run == Some(true);
    // An organization's declarative policy (its HttpTokensEnforced) stands in for the
    // account's defaults.
    let managed = ctx.api.principals.managed(&ctx.scope.account).cloned();
    let mut changed = update_named_instances(ctx, &[named], checked, |patch| {
        Box::new(move |instance, mc| {
            instance.modify_metadata(&patch, managed.as_ref().unwrap_or(&mc.defaults))?;
            dry_run(Some(is_dry))
        })
    })
    .await?;
    let (_, after) = changed.pop().ok_or(Ec2Error::InternalError)?;
    Ok(json!({
        "InstanceId": after.instance_id,
        "InstanceMetadataOptions": render::metadata_options(&after.metadata, after.options_state()),
    }))
}
