//! ModifyInstanceMetadataOptions (spec ec2-api.md §3).

use super::{dry_run, instance_id};
use crate::context::Ctx;
use crate::render;
use model::{Ec2Error, OptionsPatch};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyInstanceMetadataOptionsIn {
    instance_id: Option<String>,
    http_tokens: Option<String>,
    http_put_response_hop_limit: Option<i64>,
    http_endpoint: Option<String>,
    http_protocol_ipv6: Option<String>,
    instance_metadata_tags: Option<String>,
    dry_run: Option<bool>,
}

pub async fn modify_instance_metadata_options(
    ctx: &Ctx<'_>,
    req: ModifyInstanceMetadataOptionsIn,
) -> Result<Value, Ec2Error> {
    let id = match req.instance_id.as_deref() {
        None | Some("") => return Err(Ec2Error::MissingParameter("InstanceId".into())),
        Some(id) => instance_id(id)?,
    };
    let patch = OptionsPatch::parse(
        req.http_tokens.as_deref(),
        req.http_put_response_hop_limit,
        req.http_endpoint.as_deref(),
        req.http_protocol_ipv6.as_deref(),
        req.instance_metadata_tags.as_deref(),
        |p| p.to_string(),
    )?;
    let is_dry = req.dry_run == Some(true);
    let mut changed = ctx
        .api
        .store
        .update_instances(
            &ctx.scope,
            std::slice::from_ref(&id),
            Box::new(move |instance, mc| {
                instance.modify_metadata(&patch, &mc.defaults)?;
                dry_run(Some(is_dry))
            }),
        )
        .await?;
    let (_, after) = changed.pop().ok_or(Ec2Error::InternalError)?;
    Ok(json!({
        "InstanceId": after.instance_id,
        "InstanceMetadataOptions": render::metadata_options(&after.metadata, after.options_state()),
    }))
}
