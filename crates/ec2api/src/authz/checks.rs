//! Which resources each EC2 operation is checked on, and with which keys, read off its typed
//! input (Service Authorization Reference, "Actions defined by Amazon EC2"; spec iam.md §2).
//! A check on an existing instance names the instance; its keys are added when the
//! decision is made, from the instance as the store read it ([`Resource::Instance`]).

use super::attributes::{attribute_keys, attribute_names};
use super::context::{instance_keys, request_tag_keys};
use crate::actions::{Request, TagSpecificationIn};
use crate::auth::Caller;
use iam::condition::Context;
use model::Arn;
use model::Instance;

/// What a check is on.
#[derive(Debug, Clone)]
pub(super) enum Resource {
    /// A resource named by its ARN.
    Arn(String),
    /// An existing instance the request names by id: checked on its ARN with its own keys
    /// when it exists (with `ec2:InstanceID` alone when it does not).
    Instance(String),
    /// The instance of the association the request names (Replace, Disassociate): checked as
    /// [`Resource::Instance`] when there is one, else on `instance/*`.
    InstanceOfAssociation,
}

/// One check before the instances it names are known.
#[derive(Debug, Clone)]
pub(super) struct Check {
    pub(super) resource: Resource,
    pub(super) context: Context,
}

impl Check {
    fn on(resource: String, context: Context) -> Check {
        Check {
            resource: Resource::Arn(resource),
            context,
        }
    }

    fn on_instance(id: &str, context: Context) -> Check {
        Check {
            resource: Resource::Instance(id.to_string()),
            context,
        }
    }

    /// The check's resource ARN and context, given the existing instances the request
    /// names.
    pub(super) fn resolve(&self, caller: &Caller, instances: &[Instance]) -> (String, Context) {
        let (region, account) = (&caller.region, &caller.account);
        let on_instance = |id: &str| {
            let mut ctx = self.context.clone();
            match instances.iter().find(|i| i.instance_id == id) {
                Some(i) => instance_keys(&mut ctx, i),
                None => {
                    ctx.set("ec2:InstanceID", vec![id.to_string()]);
                }
            }
            (Arn::instance(region, account, id).to_string(), ctx)
        };
        match &self.resource {
            Resource::Arn(arn) => (arn.clone(), self.context.clone()),
            Resource::Instance(id) => on_instance(id),
            Resource::InstanceOfAssociation => match instances.first() {
                Some(i) => on_instance(&i.instance_id),
                None => (
                    Arn::instance(region, account, "*").to_string(),
                    self.context.clone(),
                ),
            },
        }
    }
}

/// The metadata option members, as their condition keys name them.
const OPTION_KEYS: &[(&str, &str)] = &[
    ("HttpTokens", "ec2:MetadataHttpTokens"),
    (
        "HttpPutResponseHopLimit",
        "ec2:MetadataHttpPutResponseHopLimit",
    ),
    ("HttpEndpoint", "ec2:MetadataHttpEndpoint"),
    ("InstanceMetadataTags", "ec2:InstanceMetadataTags"),
];

/// The checks of `request` (RunInstances as its launch template completes it).
pub(super) fn checks(request: &Request, caller: &Caller, global: &Context) -> Vec<Check> {
    let (region, account) = (&caller.region, &caller.account);
    let arn = |kind: &str, id: &str| Arn::ec2(region, account, kind, id).to_string();
    let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
    match request {
        Request::RunInstances(r) => {
            let mut inst = global.clone();
            if let Some(m) = &r.metadata_options {
                let values = [
                    m.http_tokens.clone(),
                    m.http_put_response_hop_limit.map(|h| h.to_string()),
                    m.http_endpoint.clone(),
                    m.instance_metadata_tags.clone(),
                ];
                for ((_, key), value) in OPTION_KEYS.iter().zip(values) {
                    if let Some(v) = value {
                        inst.set(key, vec![v]);
                    }
                }
            }
            if let Some(t) = &r.instance_type {
                inst.set("ec2:InstanceType", vec![t.clone()]);
            }
            if let Some(p) = &r.iam_instance_profile {
                let arn = p.arn.clone().or_else(|| {
                    p.name
                        .as_ref()
                        .map(|n| Arn::instance_profile(account, "/", n).to_string())
                });
                if let Some(arn) = arn {
                    inst.set("ec2:InstanceProfile", vec![arn]);
                }
            }
            request_tag_keys(&mut inst, &r.tag_specifications, "instance");
            let mut on_resource = global.clone();
            if let Some(id) = r
                .launch_template
                .as_ref()
                .and_then(|t| t.launch_template_id.as_ref())
            {
                let template = arn("launch-template", id);
                inst.set("ec2:LaunchTemplate", vec![template.clone()]);
                on_resource.set("ec2:LaunchTemplate", vec![template]);
            }
            let image = or_empty(&r.image_id);
            let mut image_ctx = on_resource.clone();
            image_ctx.set("ec2:ImageID", vec![image.clone()]);
            // The resources a launch touches, named where the request names them (Service
            // Authorization Reference, RunInstances: image, instance, network-interface,
            // security-group, subnet, volume; key-pair and launch-template when used).
            let subnet = r.subnet_id.clone().unwrap_or_else(|| "*".into());
            let mut list = vec![
                Check::on(Arn::image(region, &image).to_string(), image_ctx),
                Check::on(arn("instance", "*"), inst),
                Check::on(arn("network-interface", "*"), on_resource.clone()),
                Check::on(arn("subnet", &subnet), on_resource.clone()),
                Check::on(arn("volume", "*"), on_resource.clone()),
            ];
            if r.security_group_ids.is_empty() {
                list.push(Check::on(arn("security-group", "*"), on_resource.clone()));
            }
            for g in &r.security_group_ids {
                list.push(Check::on(arn("security-group", g), on_resource.clone()));
            }
            if let Some(k) = &r.key_name {
                list.push(Check::on(arn("key-pair", k), on_resource.clone()));
            }
            if let Some(t) = on_resource
                .get("ec2:LaunchTemplate")
                .and_then(|v| v.first())
            {
                list.push(Check::on(t.clone(), on_resource.clone()));
            }
            list
        }
        Request::ModifyInstanceMetadataOptions(r) => {
            let mut ctx = global.clone();
            let values = [
                ("HttpTokens", r.http_tokens.clone()),
                (
                    "HttpPutResponseHopLimit",
                    r.http_put_response_hop_limit.map(|h| h.to_string()),
                ),
                ("HttpEndpoint", r.http_endpoint.clone()),
                ("HttpProtocolIpv6", r.http_protocol_ipv6.clone()),
                ("InstanceMetadataTags", r.instance_metadata_tags.clone()),
            ];
            attribute_keys(&mut ctx, &values, r);
            // The request's own values are the `ec2:Attribute/…` keys above; the instance
            // keys describe the instance as it is.
            vec![Check::on_instance(&or_empty(&r.instance_id), ctx)]
        }
        Request::ModifyInstanceMetadataDefaults(r) => {
            let mut ctx = global.clone();
            let values = [
                ("HttpTokens", r.http_tokens.clone()),
                ("HttpTokensEnforced", r.http_tokens_enforced.clone()),
                (
                    "HttpPutResponseHopLimit",
                    r.http_put_response_hop_limit.map(|h| h.to_string()),
                ),
                ("HttpEndpoint", r.http_endpoint.clone()),
                ("InstanceMetadataTags", r.instance_metadata_tags.clone()),
            ];
            attribute_keys(&mut ctx, &values, r);
            vec![Check::on("*".into(), ctx)]
        }
        // Service Authorization Reference: instance-level actions (resource type `instance`).
        Request::ModifyInstanceAttribute(r) => {
            let mut ctx = global.clone();
            attribute_names(&mut ctx, r.attribute.as_deref(), r);
            vec![Check::on_instance(&or_empty(&r.instance_id), ctx)]
        }
        // UNCONFIRMED resource scoping (spec events.md §4.4): on the instance.
        Request::ModifyInstanceEventStartTime(r) => {
            vec![Check::on_instance(
                &or_empty(&r.instance_id),
                global.clone(),
            )]
        }
        Request::DescribeInstanceAttribute(r) => {
            let mut ctx = global.clone();
            attribute_names(&mut ctx, r.attribute.as_deref(), r);
            vec![Check::on_instance(&or_empty(&r.instance_id), ctx)]
        }
        Request::StartInstances(r)
        | Request::StopInstances(r)
        | Request::RebootInstances(r)
        | Request::TerminateInstances(r) => r
            .instance_ids
            .iter()
            .map(|i| Check::on_instance(i, global.clone()))
            .collect(),
        // EC2 User Guide, "Grant permissions to attach an IAM role to an instance"
        // (permission-to-pass-iam-roles.html): ec2:AssociateIamInstanceProfile,
        // ec2:ReplaceIamInstanceProfileAssociation and ec2:DisassociateIamInstanceProfile, each
        // on the instance (Service Authorization Reference: resource type `instance*`), plus
        // iam:PassRole for the profile's role (see `Authorization`).
        Request::AssociateIamInstanceProfile(r) => {
            vec![Check::on_instance(
                &or_empty(&r.instance_id),
                global.clone(),
            )]
        }
        // These name an association: the store finds its instance (none when the id is not
        // an association of the caller's; the handler then says so).
        Request::ReplaceIamInstanceProfileAssociation(_)
        | Request::DisassociateIamInstanceProfile(_) => vec![Check {
            resource: Resource::InstanceOfAssociation,
            context: global.clone(),
        }],
        // Service Authorization Reference, Amazon EC2: CreateVpc on `vpc/*` (with the request
        // tags); CreateSubnet on `subnet/*` (request tags) and on the VPC it goes in;
        // DeleteVpc and DeleteSubnet on the resource.
        Request::CreateVpc(r) => {
            let mut ctx = global.clone();
            request_tag_keys(&mut ctx, &r.tag_specifications, "vpc");
            vec![Check::on(arn("vpc", "*"), ctx)]
        }
        Request::CreateSubnet(r) => {
            let mut ctx = global.clone();
            request_tag_keys(&mut ctx, &r.tag_specifications, "subnet");
            vec![
                Check::on(arn("subnet", "*"), ctx),
                Check::on(arn("vpc", &or_empty(&r.vpc_id)), global.clone()),
            ]
        }
        Request::DeleteVpc(r) => vec![Check::on(arn("vpc", &or_empty(&r.vpc_id)), global.clone())],
        Request::DeleteSubnet(r) => vec![Check::on(
            arn("subnet", &or_empty(&r.subnet_id)),
            global.clone(),
        )],
        Request::ModifyImageAttribute(r) => {
            on_image(&r.image_id, r.attribute.as_deref(), r, caller, global)
        }
        Request::DescribeImageAttribute(r) => {
            on_image(&r.image_id, Some(&r.attribute), r, caller, global)
        }
        _ => vec![Check::on("*".into(), global.clone())],
    }
}

/// A check on an image with the attribute the request names or sets.
fn on_image<M: super::Members>(
    image: &str,
    attribute: Option<&str>,
    input: &M,
    caller: &Caller,
    global: &Context,
) -> Vec<Check> {
    let mut ctx = global.clone();
    ctx.set("ec2:ImageID", vec![image.to_string()]);
    attribute_names(&mut ctx, attribute, input);
    vec![Check::on(
        Arn::image(&caller.region, image).to_string(),
        ctx,
    )]
}

/// The tags a create action puts on what it creates (RunInstances: its own and, first, its
/// launch template's instance tags).
fn tag_specifications(request: &Request) -> &[TagSpecificationIn] {
    match request {
        Request::RunInstances(r) => &r.tag_specifications,
        Request::RegisterImage(r) => &r.tag_specifications,
        Request::CreateLaunchTemplate(r) => &r.tag_specifications,
        Request::CreateVpc(r) => &r.tag_specifications,
        Request::CreateSubnet(r) => &r.tag_specifications,
        _ => &[],
    }
}

/// The `ec2:CreateTags` checks of a create action that tags what it creates (EC2 User Guide,
/// "Grant permission to tag Amazon EC2 resources during creation": "If tags are specified in
/// the resource-creating action, Amazon performs additional authorization on the
/// ec2:CreateTags action"; "The ec2:CreateTags action is also evaluated if tags are provided
/// in a launch template"). One check per resource type the request tags, on that type's
/// `…/*` ARN, with `ec2:CreateAction` = the action and that type's `aws:RequestTag/…` and
/// `aws:TagKeys`. A request that tags nothing needs no `ec2:CreateTags`.
pub(super) fn tag_on_create_checks(
    request: &Request,
    caller: &Caller,
    global: &Context,
) -> Vec<(String, Context)> {
    let specs = tag_specifications(request);
    let mut types: Vec<&str> = Vec::new();
    for spec in specs {
        if let (false, Some(rt)) = (spec.tags.is_empty(), spec.resource_type.as_deref()) {
            if !types.contains(&rt) {
                types.push(rt);
            }
        }
    }
    let (region, account) = (&caller.region, &caller.account);
    types
        .into_iter()
        .map(|rt| {
            let mut ctx = global.clone();
            ctx.set(
                "ec2:CreateAction",
                vec![request.action().name().to_string()],
            );
            request_tag_keys(&mut ctx, specs, rt);
            // Images and snapshots are the ARNs without an account (Service Authorization
            // Reference, Amazon EC2 resource types).
            let arn = match rt {
                "image" | "snapshot" => Arn::ec2(region, "", rt, "*").to_string(),
                _ => Arn::ec2(region, account, rt, "*").to_string(),
            };
            (arn, ctx)
        })
        .collect()
}
