//! CreateTags, DeleteTags, DescribeTags, across the resource types imds keeps.

use super::{dry_run, encode_token, filters, max_results, page_after, FilterIn, TagIn};
use crate::context::Ctx;
use model::tags::{self, Tag};
use model::{ids, Ec2Error};
use serde::Deserialize;
use serde_json::{json, Value};
use store::TagQuery;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagsIn {
    #[serde(default)]
    resources: Vec<String>,
    tags: Option<Vec<TagIn>>,
    dry_run: Option<bool>,
}

/// The resources of a tag request, grouped by what keeps them.
enum Target {
    Instance(String),
    Image(String),
    Template(String),
    /// A VPC or subnet of one's own.
    Network(String),
}

fn target(id: &str) -> Result<Target, Ec2Error> {
    let ok = |p: &str| ids::is_well_formed(id, p);
    if ok(ids::INSTANCE) {
        Ok(Target::Instance(id.into()))
    } else if ok(ids::IMAGE) {
        Ok(Target::Image(id.into()))
    } else if ok(ids::LAUNCH_TEMPLATE) {
        Ok(Target::Template(id.into()))
    } else if ok(ids::VPC) || ok(ids::SUBNET) {
        Ok(Target::Network(id.into()))
    } else {
        Err(Ec2Error::InvalidId(id.into()))
    }
}

/// What CreateTags or DeleteTags does to each resource.
#[derive(Clone)]
enum TagChange {
    Set(Vec<Tag>),
    /// `None`: every tag; a key without a value: whatever its value.
    Remove(Option<Vec<(String, Option<String>)>>),
}

impl TagChange {
    fn apply(&self, tags: &mut Vec<Tag>) -> Result<(), Ec2Error> {
        match self {
            TagChange::Set(new) => tags::upsert(tags, new),
            TagChange::Remove(Some(keys)) => {
                tags::remove(tags, keys);
                Ok(())
            }
            TagChange::Remove(None) => {
                tags.clear();
                Ok(())
            }
        }
    }

    /// On an instance the model also checks keys against tags in metadata.
    fn apply_to_instance(&self, i: &mut model::Instance) -> Result<(), Ec2Error> {
        match self {
            TagChange::Set(new) => i.set_tags(new),
            remove => remove.apply(&mut i.tags),
        }
    }
}

/// Apply a change to the tags of every resource; stops at the first refusal.
async fn for_each(
    ctx: &Ctx<'_>,
    resources: &[String],
    is_dry: bool,
    change: TagChange,
) -> Result<(), Ec2Error> {
    if resources.is_empty() || resources.iter().any(String::is_empty) {
        return Err(Ec2Error::MissingParameter("ResourceId".into()));
    }
    let targets: Vec<Target> = resources
        .iter()
        .map(|r| target(r))
        .collect::<Result<_, _>>()?;
    let instance_ids: Vec<String> = targets
        .iter()
        .filter_map(|t| match t {
            Target::Instance(i) => Some(i.clone()),
            _ => None,
        })
        .collect();
    if !instance_ids.is_empty() {
        let c = change.clone();
        ctx.api
            .store
            .update_instances(
                &ctx.scope,
                &instance_ids,
                store::ungated(),
                Box::new(move |i, _| {
                    c.apply_to_instance(i)?;
                    dry_run(Some(is_dry))
                }),
            )
            .await?;
    }
    for t in targets {
        let c = change.clone();
        match t {
            Target::Instance(_) => {}
            Target::Image(id) => {
                if model::catalogue::public_image(&id).is_some() {
                    return Err(Ec2Error::ImageAuthFailure(id));
                }
                ctx.api
                    .store
                    .update_image(
                        &ctx.scope,
                        &id,
                        Box::new(move |img| {
                            c.apply(&mut img.tags)?;
                            dry_run(Some(is_dry))
                        }),
                    )
                    .await?;
            }
            Target::Network(id) => {
                ctx.api
                    .store
                    .update_network_tags(
                        &ctx.scope,
                        &id,
                        Box::new(move |tags| {
                            c.apply(tags)?;
                            dry_run(Some(is_dry))
                        }),
                    )
                    .await?;
            }
            Target::Template(id) => {
                ctx.api
                    .store
                    .update_template(
                        &ctx.scope,
                        &id,
                        Box::new(move |lt| {
                            c.apply(&mut lt.tags)?;
                            dry_run(Some(is_dry)).map(|_| None)
                        }),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

pub async fn create_tags(ctx: &Ctx<'_>, req: TagsIn) -> Result<Value, Ec2Error> {
    let new: Vec<Tag> = req
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| Tag {
            key: t.key.unwrap_or_default(),
            value: t.value.unwrap_or_default(),
        })
        .collect();
    if new.is_empty() {
        return Err(Ec2Error::MissingParameter("Tag".into()));
    }
    for t in &new {
        tags::validate(t)?;
    }
    for_each(
        ctx,
        &req.resources,
        req.dry_run == Some(true),
        TagChange::Set(new),
    )
    .await?;
    Ok(json!({}))
}

pub async fn delete_tags(ctx: &Ctx<'_>, req: TagsIn) -> Result<Value, Ec2Error> {
    let keys: Option<Vec<(String, Option<String>)>> = req.tags.map(|list| {
        list.into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value))
            .collect()
    });
    if let Some(k) = &keys {
        if let Some((key, _)) = k
            .iter()
            .find(|(key, _)| key.to_ascii_lowercase().starts_with("aws:"))
        {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Value ( {key} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use"
            )));
        }
    }
    for_each(
        ctx,
        &req.resources,
        req.dry_run == Some(true),
        TagChange::Remove(keys),
    )
    .await?;
    Ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTagsIn {
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const TAG_FILTERS: &[&str] = &["key", "value", "resource-id", "resource-type"];

pub async fn describe_tags(ctx: &Ctx<'_>, req: DescribeTagsIn) -> Result<Value, Ec2Error> {
    let filters = filters(req.filters)?;
    model::filter::validate(&filters, TAG_FILTERS)?;
    let limit = max_results(req.max_results)?;
    let after = page_after("tags", &req.next_token)?;
    dry_run(req.dry_run)?;
    let page = ctx
        .api
        .store
        .describe_tags(
            &ctx.scope,
            &TagQuery {
                filters,
                after,
                limit,
            },
        )
        .await?;
    let tags: Vec<Value> = page
        .tags
        .iter()
        .map(|t| json!({"ResourceId": t.resource_id, "ResourceType": t.resource_type, "Key": t.key, "Value": t.value}))
        .collect();
    let mut out = json!({ "Tags": tags });
    if let Some(n) = page.next {
        out["NextToken"] = json!(encode_token("tags", n));
    }
    Ok(out)
}
