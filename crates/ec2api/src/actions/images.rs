//! RegisterImage, DescribeImages, ModifyImageAttribute and DescribeImageAttribute, with
//! `ImdsSupport` (spec ec2-api.md §8).

use super::{dry_run, filters, random, tags_for, FilterIn, TagSpecificationIn};
use crate::context::Ctx;
use crate::render;
use model::catalogue;
use model::image::{Image, ImdsSupport};
use model::{filter, ids, Ec2Error};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterImageIn {
    name: Option<String>,
    description: Option<String>,
    architecture: Option<String>,
    root_device_name: Option<String>,
    imds_support: Option<String>,
    #[serde(default)]
    pub(crate) tag_specifications: Vec<TagSpecificationIn>,
    dry_run: Option<bool>,
}

pub async fn register_image(ctx: &Ctx<'_>, req: RegisterImageIn) -> Result<Value, Ec2Error> {
    let name = req.name.unwrap_or_default();
    if !(3..=128).contains(&name.chars().count())
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(c))
    {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_': {name}"
        )));
    }
    let imds_support = req
        .imds_support
        .as_deref()
        .map(ImdsSupport::parse)
        .transpose()?;
    let architecture = req.architecture.unwrap_or_else(|| "x86_64".into());
    if !["i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac"].contains(&architecture.as_str()) {
        return Err(Ec2Error::invalid_enum(
            &architecture,
            "Architecture",
            &["i386", "x86_64", "arm64"],
        ));
    }
    let tags = tags_for(&req.tag_specifications, "image", &["image", "snapshot"])?;
    let existing = ctx.api.store.images(&ctx.scope).await?;
    if let Some(dup) = existing.iter().find(|i| i.name == name) {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "AMI name {name} is already in use by AMI {}",
            dup.image_id
        )));
    }
    dry_run(req.dry_run)?;
    let image = Image {
        image_id: ids::new_id(ids::IMAGE, random()),
        owner_id: ctx.scope.account.clone(),
        owner_alias: None,
        name,
        description: req.description,
        architecture,
        platform_details: "Linux/UNIX".into(),
        root_device_name: req.root_device_name.unwrap_or_else(|| "/dev/xvda".into()),
        virtualization_type: "hvm".into(),
        ena_support: true,
        public: false,
        imds_support,
        creation_date: render::timestamp(super::now_ms()),
        tags,
    };
    let id = image.image_id.clone();
    ctx.api.store.put_image(&ctx.scope, image).await?;
    Ok(json!({ "ImageId": id }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImagesIn {
    image_ids: Option<Vec<String>>,
    owners: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    dry_run: Option<bool>,
}

const IMAGE_FILTERS: &[&str] = &[
    "image-id",
    "name",
    "owner-id",
    "owner-alias",
    "architecture",
    "state",
    "is-public",
    "imds-support",
    "root-device-type",
    "virtualization-type",
    "description",
    "tag-key",
];

fn image_attributes(i: &Image) -> Vec<(String, String)> {
    let mut a: Vec<(String, String)> = vec![
        ("image-id".into(), i.image_id.clone()),
        ("name".into(), i.name.clone()),
        ("owner-id".into(), i.owner_id.clone()),
        ("architecture".into(), i.architecture.clone()),
        ("state".into(), "available".into()),
        ("is-public".into(), i.public.to_string()),
        ("root-device-type".into(), "ebs".into()),
        ("virtualization-type".into(), i.virtualization_type.clone()),
    ];
    if let Some(o) = &i.owner_alias {
        a.push(("owner-alias".into(), o.clone()));
    }
    if let Some(s) = i.imds_support {
        a.push(("imds-support".into(), s.as_str().into()));
    }
    if let Some(d) = &i.description {
        a.push(("description".into(), d.clone()));
    }
    for t in &i.tags {
        a.push((format!("tag:{}", t.key), t.value.clone()));
        a.push(("tag-key".into(), t.key.clone()));
    }
    a
}

/// Every image the caller can see: the catalogue's public images and its own.
async fn visible(ctx: &Ctx<'_>) -> Result<Vec<Image>, Ec2Error> {
    let mut all = catalogue::public_images();
    all.extend(ctx.api.store.images(&ctx.scope).await?);
    Ok(all)
}

pub async fn describe_images(ctx: &Ctx<'_>, req: DescribeImagesIn) -> Result<Value, Ec2Error> {
    let filters = filters(req.filters)?;
    filter::validate(&filters, IMAGE_FILTERS)?;
    if let Some(ids) = &req.image_ids {
        for id in ids {
            if !ids::is_well_formed(id, ids::IMAGE) {
                return Err(Ec2Error::InvalidAmiIdMalformed(id.clone()));
            }
        }
    }
    dry_run(req.dry_run)?;
    let all = visible(ctx).await?;
    if let Some(ids) = &req.image_ids {
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| !all.iter().any(|i| &i.image_id == *id))
            .collect();
        if let Some(m) = missing.first() {
            return Err(Ec2Error::InvalidAmiIdNotFound((*m).clone()));
        }
    }
    let owners = req.owners.unwrap_or_default();
    let account = &ctx.scope.account;
    let images: Vec<Value> = all
        .iter()
        .filter(|i| {
            req.image_ids
                .as_ref()
                .is_none_or(|ids| ids.is_empty() || ids.contains(&i.image_id))
        })
        .filter(|i| {
            owners.is_empty()
                || owners.iter().any(|o| match o.as_str() {
                    "self" => &i.owner_id == account,
                    alias if i.owner_alias.as_deref() == Some(alias) => true,
                    id => i.owner_id == id,
                })
        })
        .filter(|i| filter::passes(&filters, &image_attributes(i)))
        .map(render::image)
        .collect();
    Ok(json!({ "Images": images }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeValueIn {
    value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyImageAttributeIn {
    pub(crate) image_id: String,
    pub(crate) attribute: Option<String>,
    value: Option<String>,
    imds_support: Option<AttributeValueIn>,
    description: Option<AttributeValueIn>,
    dry_run: Option<bool>,
    /// Members imds does not act on, here so that `ec2:Attribute` names them when sent.
    launch_permission: Option<IgnoredAny>,
    operation_type: Option<IgnoredAny>,
    product_codes: Option<IgnoredAny>,
    user_groups: Option<IgnoredAny>,
    user_ids: Option<IgnoredAny>,
    organization_arns: Option<IgnoredAny>,
    organizational_unit_arns: Option<IgnoredAny>,
}

crate::authz::members!(ModifyImageAttributeIn, "ModifyImageAttribute", {
    "Attribute" => attribute,
    "Description" => description,
    "ImageId" => image_id,
    "LaunchPermission" => launch_permission,
    "OperationType" => operation_type,
    "ProductCodes" => product_codes,
    "UserGroups" => user_groups,
    "UserIds" => user_ids,
    "Value" => value,
    "OrganizationArns" => organization_arns,
    "OrganizationalUnitArns" => organizational_unit_arns,
    "ImdsSupport" => imds_support,
    "DryRun" => dry_run,
});

fn image_id(id: &str) -> Result<String, Ec2Error> {
    if ids::is_well_formed(id, ids::IMAGE) {
        Ok(id.to_string())
    } else {
        Err(Ec2Error::InvalidAmiIdMalformed(id.to_string()))
    }
}

pub async fn modify_image_attribute(
    ctx: &Ctx<'_>,
    req: ModifyImageAttributeIn,
) -> Result<Value, Ec2Error> {
    let id = image_id(&req.image_id)?;
    // Either `ImdsSupport.Value=v2.0`, or the generic `Attribute=imdsSupport&Value=v2.0`.
    let imds = match (&req.imds_support, req.attribute.as_deref()) {
        (Some(v), _) => Some(v.value.clone().unwrap_or_default()),
        (None, Some("imdsSupport")) => Some(req.value.clone().unwrap_or_default()),
        _ => None,
    };
    let description = match (&req.description, req.attribute.as_deref()) {
        (Some(v), _) => Some(v.value.clone().unwrap_or_default()),
        (None, Some("description")) => Some(req.value.clone().unwrap_or_default()),
        _ => None,
    };
    if imds.is_some() && description.is_some() {
        return Err(Ec2Error::InvalidParameterCombination(
            "Only one attribute can be modified at a time.".into(),
        ));
    }
    let imds = imds.map(|v| ImdsSupport::parse(&v)).transpose()?;
    if imds.is_none() && description.is_none() {
        return Err(Ec2Error::MissingParameter("Attribute".into()));
    }
    if catalogue::public_image(&id).is_some() {
        return Err(Ec2Error::ImageAuthFailure(id));
    }
    let is_dry = req.dry_run == Some(true);
    ctx.api
        .store
        .update_image(
            &ctx.scope,
            &id,
            Box::new(move |img| {
                if let Some(s) = imds {
                    // Irreversible: there is no value that unsets it.
                    img.imds_support = Some(s);
                }
                if let Some(d) = description {
                    img.description = Some(d);
                }
                dry_run(Some(is_dry))
            }),
        )
        .await?;
    Ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImageAttributeIn {
    pub(crate) image_id: String,
    pub(crate) attribute: String,
    dry_run: Option<bool>,
}

crate::authz::members!(DescribeImageAttributeIn, "DescribeImageAttribute", {
    "Attribute" => attribute,
    "ImageId" => image_id,
    "DryRun" => dry_run,
});

pub async fn describe_image_attribute(
    ctx: &Ctx<'_>,
    req: DescribeImageAttributeIn,
) -> Result<Value, Ec2Error> {
    let id = image_id(&req.image_id)?;
    const ATTRIBUTES: &[&str] = &[
        "description",
        "kernel",
        "ramdisk",
        "launchPermission",
        "productCodes",
        "blockDeviceMapping",
        "sriovNetSupport",
        "bootMode",
        "tpmSupport",
        "uefiData",
        "lastLaunchedTime",
        "imdsSupport",
        "deregistrationProtection",
    ];
    if !ATTRIBUTES.contains(&req.attribute.as_str()) {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Value ({}) for parameter attribute is invalid. Unknown attribute.",
            req.attribute
        )));
    }
    dry_run(req.dry_run)?;
    let all = visible(ctx).await?;
    let img = all
        .iter()
        .find(|i| i.image_id == id)
        .ok_or_else(|| Ec2Error::InvalidAmiIdNotFound(id.clone()))?;
    let attr = |v: Option<String>| match v {
        Some(v) => json!({"Value": v}),
        None => json!({}),
    };
    let mut out = json!({ "ImageId": img.image_id });
    match req.attribute.as_str() {
        "imdsSupport" => {
            out["ImdsSupport"] = attr(img.imds_support.map(|s| s.as_str().to_string()))
        }
        "description" => out["Description"] = attr(img.description.clone()),
        "bootMode" => out["BootMode"] = attr(Some("uefi-preferred".into())),
        "launchPermission" => {
            out["LaunchPermissions"] = json!(if img.public {
                json!([{"Group": "all"}])
            } else {
                json!([])
            })
        }
        "productCodes" => out["ProductCodes"] = json!([]),
        "blockDeviceMapping" => {
            out["BlockDeviceMappings"] = render::image(img)["BlockDeviceMappings"].clone()
        }
        "kernel" => out["KernelId"] = json!({}),
        "ramdisk" => out["RamdiskId"] = json!({}),
        "sriovNetSupport" => out["SriovNetSupport"] = attr(Some("simple".into())),
        "tpmSupport" => out["TpmSupport"] = json!({}),
        "uefiData" => out["UefiData"] = json!({}),
        "lastLaunchedTime" => out["LastLaunchedTime"] = json!({}),
        _ => out["DeregistrationProtection"] = attr(Some("disabled".into())),
    }
    Ok(out)
}
