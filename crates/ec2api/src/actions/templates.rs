//! Launch templates: their versions keep `LaunchTemplateData`, whose `MetadataOptions` take
//! part in the order of precedence at launch.

use super::launch::{IamInstanceProfileIn, MetadataOptionsIn, TemplateLaunch};
use super::{dry_run, filters, random, tags_for, FilterIn, TagSpecificationIn};
use crate::context::Ctx;
use crate::protocol::shapes::conform;
use crate::render;
use model::launch_template::{self, LaunchTemplate, LaunchTemplateVersion, VersionSelector};
use model::options::OptionsPatch;
use model::{filter, ids, Ec2Error, HopLimit};
use serde::Deserialize;
use serde_json::{json, Value};

/// Parse template metadata options; templates word invalid values their own way
/// (spec ec2-api.md §4: "A value of 'x' is not valid for http-endpoint. Valid values are …").
fn template_options(m: &MetadataOptionsIn) -> Result<OptionsPatch, Ec2Error> {
    let check = |v: &Option<String>, name: &str, a: &str, b: &str| -> Result<(), Ec2Error> {
        match v.as_deref() {
            Some(x) if x != a && x != b => Err(Ec2Error::InvalidParameterValue(format!(
                "A value of '{x}' is not valid for {name}. Valid values are '{a}' or '{b}'."
            ))),
            _ => Ok(()),
        }
    };
    check(&m.http_tokens, "http-tokens", "optional", "required")?;
    check(&m.http_endpoint, "http-endpoint", "enabled", "disabled")?;
    check(
        &m.http_protocol_ipv6,
        "http-protocol-ipv6",
        "enabled",
        "disabled",
    )?;
    check(
        &m.instance_metadata_tags,
        "instance-metadata-tags",
        "enabled",
        "disabled",
    )?;
    if let Some(h) = m.http_put_response_hop_limit {
        HopLimit::new(h).map_err(|_| {
            Ec2Error::InvalidParameterValue(format!(
                "A value of '{h}' is not valid for http-put-response-hop-limit. Valid values are integers from 1 to 64."
            ))
        })?;
    }
    m.patch(|p| p.to_string())
}

/// The typed view of `RequestLaunchTemplateData` that a launch uses.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataIn {
    image_id: Option<String>,
    instance_type: Option<String>,
    key_name: Option<String>,
    metadata_options: Option<MetadataOptionsIn>,
    iam_instance_profile: Option<IamInstanceProfileIn>,
    user_data: Option<String>,
    #[serde(default)]
    tag_specifications: Vec<TagSpecificationIn>,
    #[serde(default)]
    security_group_ids: Vec<String>,
    disable_api_termination: Option<bool>,
    disable_api_stop: Option<bool>,
    ebs_optimized: Option<bool>,
    instance_initiated_shutdown_behavior: Option<String>,
    instance_market_options: Option<super::launch::InstanceMarketOptionsIn>,
    hibernation_options: Option<super::launch::ConfiguredIn>,
}

fn parse_data(data: &Value) -> Result<(DataIn, OptionsPatch), Ec2Error> {
    let d: DataIn = serde_json::from_value(data.clone())
        .map_err(|e| Ec2Error::InvalidParameterValue(e.to_string()))?;
    let patch = match &d.metadata_options {
        Some(m) => template_options(m)?,
        None => OptionsPatch::default(),
    };
    if let Some(t) = &d.instance_type {
        if model::catalogue::instance_type(t).is_none() {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Invalid value '{t}' for InstanceType."
            )));
        }
    }
    if let Some(i) = &d.image_id {
        if !ids::is_well_formed(i, ids::IMAGE) {
            return Err(Ec2Error::InvalidAmiIdMalformed(i.clone()));
        }
    }
    tags_for(
        &d.tag_specifications,
        "instance",
        &[
            "instance",
            "volume",
            "network-interface",
            "spot-instances-request",
            "elastic-gpu",
        ],
    )?;
    Ok((d, patch))
}

fn version_json(t: &LaunchTemplate, v: &LaunchTemplateVersion) -> Value {
    let data: Value = serde_json::from_str(&v.data_json).unwrap_or_else(|_| json!({}));
    let mut response = conform(&data, "ResponseLaunchTemplateData");
    if let Some(m) = response
        .get_mut("MetadataOptions")
        .and_then(Value::as_object_mut)
    {
        // Template data has a state too; nothing applies it, so it stays pending.
        m.insert("State".into(), json!("pending"));
    }
    let mut out = json!({
        "LaunchTemplateId": t.launch_template_id,
        "LaunchTemplateName": t.name,
        "VersionNumber": v.version,
        "CreateTime": render::timestamp(v.create_time_ms),
        "CreatedBy": v.created_by,
        "DefaultVersion": v.version == t.default_version,
        "LaunchTemplateData": response,
    });
    if let Some(d) = &v.description {
        out["VersionDescription"] = json!(d);
    }
    out
}

fn template_json(t: &LaunchTemplate) -> Value {
    let mut out = json!({
        "LaunchTemplateId": t.launch_template_id,
        "LaunchTemplateName": t.name,
        "CreateTime": render::timestamp(t.create_time_ms),
        "CreatedBy": t.created_by,
        "DefaultVersionNumber": t.default_version,
        "LatestVersionNumber": t.latest_version,
    });
    if !t.tags.is_empty() {
        out["Tags"] = render::tags(&t.tags);
    }
    out
}

/// Find a template by id or by name (exactly one of them).
async fn find(
    ctx: &Ctx<'_>,
    id: Option<&str>,
    name: Option<&str>,
) -> Result<LaunchTemplate, Ec2Error> {
    let all = ctx.api.store.templates(&ctx.scope).await?;
    match (id.filter(|s| !s.is_empty()), name.filter(|s| !s.is_empty())) {
        (Some(_), Some(_)) => Err(Ec2Error::InvalidParameterCombination(
            "Provide either a launch template ID or a launch template name, but not both.".into(),
        )),
        (Some(id), None) => {
            if !ids::is_well_formed(id, ids::LAUNCH_TEMPLATE) {
                return Err(Ec2Error::InvalidLaunchTemplateIdMalformed(id.into()));
            }
            all.into_iter()
                .find(|t| t.launch_template_id == id)
                .ok_or_else(|| Ec2Error::InvalidLaunchTemplateIdNotFound(id.into()))
        }
        (None, Some(name)) => all
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Ec2Error::InvalidLaunchTemplateNameNotFound(name.into())),
        (None, None) => Err(Ec2Error::MissingParameter(
            "launchTemplateId or launchTemplateName".into(),
        )),
    }
}

/// What a launch takes from a template version.
pub async fn for_launch(
    ctx: &Ctx<'_>,
    id: Option<&str>,
    name: Option<&str>,
    version: Option<&str>,
) -> Result<TemplateLaunch, Ec2Error> {
    let t = find(ctx, id, name).await?;
    let n = VersionSelector::parse(version, &t.launch_template_id)?.resolve(&t);
    let versions = ctx
        .api
        .store
        .template_versions(&ctx.scope, &t.launch_template_id)
        .await?;
    let v = versions.iter().find(|v| v.version == n).ok_or_else(|| {
        Ec2Error::InvalidLaunchTemplateIdVersionNotFound {
            template: t.launch_template_id.clone(),
            version: n.to_string(),
        }
    })?;
    let data: Value = serde_json::from_str(&v.data_json).unwrap_or_else(|_| json!({}));
    let (d, metadata) = parse_data(&data)?;
    let instance_tags = tags_for(
        &d.tag_specifications,
        "instance",
        &[
            "instance",
            "volume",
            "network-interface",
            "spot-instances-request",
            "elastic-gpu",
        ],
    )?;
    Ok(TemplateLaunch {
        template: Some((t.launch_template_id.clone(), n.to_string())),
        image_id: d.image_id,
        instance_type: d.instance_type,
        key_name: d.key_name,
        metadata,
        iam_instance_profile: d.iam_instance_profile,
        user_data: d.user_data,
        instance_tags,
        security_group_ids: d.security_group_ids,
        disable_api_termination: d.disable_api_termination,
        disable_api_stop: d.disable_api_stop,
        ebs_optimized: d.ebs_optimized,
        shutdown_behavior: d.instance_initiated_shutdown_behavior,
        market: d.instance_market_options,
        hibernation: d.hibernation_options.and_then(|h| h.configured),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateIn {
    launch_template_name: String,
    version_description: Option<String>,
    launch_template_data: Value,
    #[serde(default)]
    pub(crate) tag_specifications: Vec<TagSpecificationIn>,
    dry_run: Option<bool>,
}

pub async fn create_launch_template(ctx: &Ctx<'_>, req: CreateIn) -> Result<Value, Ec2Error> {
    launch_template::validate_name(&req.launch_template_name)?;
    let (_, metadata) = parse_data(&req.launch_template_data)?;
    let tags = tags_for(
        &req.tag_specifications,
        "launch-template",
        &["launch-template"],
    )?;
    dry_run(req.dry_run)?;
    let now = super::now_ms();
    let t = LaunchTemplate {
        launch_template_id: ids::new_id(ids::LAUNCH_TEMPLATE, random()),
        name: req.launch_template_name,
        scope: ctx.scope.clone(),
        create_time_ms: now,
        created_by: ctx.caller.arn.clone(),
        default_version: 1,
        latest_version: 1,
        tags,
    };
    let v = LaunchTemplateVersion {
        launch_template_id: t.launch_template_id.clone(),
        version: 1,
        description: req.version_description,
        create_time_ms: now,
        created_by: ctx.caller.arn.clone(),
        data_json: req.launch_template_data.to_string(),
        metadata,
    };
    ctx.api
        .store
        .create_template(&ctx.scope, t.clone(), v)
        .await?;
    Ok(json!({ "LaunchTemplate": template_json(&t) }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateVersionIn {
    launch_template_id: Option<String>,
    launch_template_name: Option<String>,
    source_version: Option<String>,
    version_description: Option<String>,
    launch_template_data: Value,
    dry_run: Option<bool>,
}

/// Merge `over` into `base`, member by member (SourceVersion: the new data overrides the
/// source version's).
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

pub async fn create_launch_template_version(
    ctx: &Ctx<'_>,
    req: CreateVersionIn,
) -> Result<Value, Ec2Error> {
    let t = find(
        ctx,
        req.launch_template_id.as_deref(),
        req.launch_template_name.as_deref(),
    )
    .await?;
    let mut data = req.launch_template_data.clone();
    if let Some(src) = &req.source_version {
        let n = VersionSelector::parse(Some(src), &t.launch_template_id)?.resolve(&t);
        let versions = ctx
            .api
            .store
            .template_versions(&ctx.scope, &t.launch_template_id)
            .await?;
        let v = versions.iter().find(|v| v.version == n).ok_or_else(|| {
            Ec2Error::InvalidLaunchTemplateIdVersionNotFound {
                template: t.launch_template_id.clone(),
                version: src.clone(),
            }
        })?;
        let mut base: Value = serde_json::from_str(&v.data_json).unwrap_or_else(|_| json!({}));
        merge(&mut base, &data);
        data = base;
    }
    let (_, metadata) = parse_data(&data)?;
    let is_dry = req.dry_run == Some(true);
    let now = super::now_ms();
    let created_by = ctx.caller.arn.clone();
    let description = req.version_description.clone();
    let data_json = data.to_string();
    let (t, v) = ctx
        .api
        .store
        .update_template(
            &ctx.scope,
            &t.launch_template_id,
            Box::new(move |lt| {
                dry_run(Some(is_dry))?;
                lt.latest_version += 1;
                Ok(Some(LaunchTemplateVersion {
                    launch_template_id: lt.launch_template_id.clone(),
                    version: lt.latest_version,
                    description,
                    create_time_ms: now,
                    created_by,
                    data_json,
                    metadata,
                }))
            }),
        )
        .await?;
    let v = v.ok_or(Ec2Error::InternalError)?;
    Ok(json!({ "LaunchTemplateVersion": version_json(&t, &v) }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyIn {
    launch_template_id: Option<String>,
    launch_template_name: Option<String>,
    default_version: Option<String>,
    dry_run: Option<bool>,
}

pub async fn modify_launch_template(ctx: &Ctx<'_>, req: ModifyIn) -> Result<Value, Ec2Error> {
    let t = find(
        ctx,
        req.launch_template_id.as_deref(),
        req.launch_template_name.as_deref(),
    )
    .await?;
    let versions = ctx
        .api
        .store
        .template_versions(&ctx.scope, &t.launch_template_id)
        .await?;
    let new_default = match &req.default_version {
        Some(v) => {
            let n = VersionSelector::parse(Some(v), &t.launch_template_id)?.resolve(&t);
            if !versions.iter().any(|x| x.version == n) {
                return Err(Ec2Error::InvalidLaunchTemplateIdVersionNotFound {
                    template: t.launch_template_id.clone(),
                    version: v.clone(),
                });
            }
            Some(n)
        }
        None => None,
    };
    let is_dry = req.dry_run == Some(true);
    let (t, _) = ctx
        .api
        .store
        .update_template(
            &ctx.scope,
            &t.launch_template_id,
            Box::new(move |lt| {
                dry_run(Some(is_dry))?;
                if let Some(n) = new_default {
                    lt.default_version = n;
                }
                Ok(None)
            }),
        )
        .await?;
    Ok(json!({ "LaunchTemplate": template_json(&t) }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeIn {
    launch_template_ids: Option<Vec<String>>,
    launch_template_names: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    dry_run: Option<bool>,
}

pub async fn describe_launch_templates(ctx: &Ctx<'_>, req: DescribeIn) -> Result<Value, Ec2Error> {
    let filters = filters(req.filters)?;
    filter::validate(&filters, &["launch-template-name", "tag-key"])?;
    dry_run(req.dry_run)?;
    let all = ctx.api.store.templates(&ctx.scope).await?;
    let ids = req.launch_template_ids.unwrap_or_default();
    let names = req.launch_template_names.unwrap_or_default();
    for id in &ids {
        if !ids::is_well_formed(id, ids::LAUNCH_TEMPLATE) {
            return Err(Ec2Error::InvalidLaunchTemplateIdMalformed(id.clone()));
        }
        if !all.iter().any(|t| &t.launch_template_id == id) {
            return Err(Ec2Error::InvalidLaunchTemplateIdNotFound(id.clone()));
        }
    }
    for n in &names {
        if !all.iter().any(|t| &t.name == n) {
            return Err(Ec2Error::InvalidLaunchTemplateNameNotFound(n.clone()));
        }
    }
    let out: Vec<Value> = all
        .iter()
        .filter(|t| ids.is_empty() || ids.contains(&t.launch_template_id))
        .filter(|t| names.is_empty() || names.contains(&t.name))
        .filter(|t| {
            let mut attrs = vec![("launch-template-name".to_string(), t.name.clone())];
            for tag in &t.tags {
                attrs.push((format!("tag:{}", tag.key), tag.value.clone()));
                attrs.push(("tag-key".into(), tag.key.clone()));
            }
            filter::passes(&filters, &attrs)
        })
        .map(template_json)
        .collect();
    Ok(json!({ "LaunchTemplates": out }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVersionsIn {
    launch_template_id: Option<String>,
    launch_template_name: Option<String>,
    versions: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    dry_run: Option<bool>,
}

pub async fn describe_launch_template_versions(
    ctx: &Ctx<'_>,
    req: DescribeVersionsIn,
) -> Result<Value, Ec2Error> {
    let t = find(
        ctx,
        req.launch_template_id.as_deref(),
        req.launch_template_name.as_deref(),
    )
    .await?;
    dry_run(req.dry_run)?;
    let versions = ctx
        .api
        .store
        .template_versions(&ctx.scope, &t.launch_template_id)
        .await?;
    let wanted: Option<Vec<u64>> = match &req.versions {
        Some(list) if !list.is_empty() => Some(
            list.iter()
                .map(|v| {
                    VersionSelector::parse(Some(v), &t.launch_template_id).map(|s| s.resolve(&t))
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => None,
    };
    let bound = |v: &Option<String>| -> Result<Option<u64>, Ec2Error> {
        v.as_deref()
            .map(|s| VersionSelector::parse(Some(s), &t.launch_template_id).map(|x| x.resolve(&t)))
            .transpose()
    };
    let (min, max) = (bound(&req.min_version)?, bound(&req.max_version)?);
    if let Some(w) = &wanted {
        if let Some(missing) = w
            .iter()
            .find(|n| !versions.iter().any(|v| v.version == **n))
        {
            return Err(Ec2Error::InvalidLaunchTemplateIdVersionNotFound {
                template: t.launch_template_id.clone(),
                version: missing.to_string(),
            });
        }
    }
    let mut out: Vec<&LaunchTemplateVersion> = versions
        .iter()
        .filter(|v| wanted.as_ref().is_none_or(|w| w.contains(&v.version)))
        .filter(|v| min.is_none_or(|m| v.version >= m) && max.is_none_or(|m| v.version <= m))
        .collect();
    out.sort_by_key(|v| std::cmp::Reverse(v.version));
    Ok(
        json!({ "LaunchTemplateVersions": out.iter().map(|v| version_json(&t, v)).collect::<Vec<_>>() }),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteIn {
    launch_template_id: Option<String>,
    launch_template_name: Option<String>,
    dry_run: Option<bool>,
}

pub async fn delete_launch_template(ctx: &Ctx<'_>, req: DeleteIn) -> Result<Value, Ec2Error> {
    let t = find(
        ctx,
        req.launch_template_id.as_deref(),
        req.launch_template_name.as_deref(),
    )
    .await?;
    dry_run(req.dry_run)?;
    let t = ctx
        .api
        .store
        .delete_template(&ctx.scope, &t.launch_template_id)
        .await?;
    Ok(json!({ "LaunchTemplate": template_json(&t) }))
}
