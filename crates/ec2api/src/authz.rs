//! Authorization of EC2 actions with `--iam-config`: which resources each action is checked
//! on, the request context (the `ec2:Metadata*` keys, `ec2:Attribute/…`, global keys), and
//! the decision from the `iam` evaluator (spec iam.md §1, §2, §4).
//!
//! The policies come from [`crate::principals`]: an account root may do anything its SCPs
//! allow; users and role sessions have their identity policies (inline and attached), a
//! permissions boundary, a session policy, and their account's SCPs. The decision is made
//! from policies parsed when they were written, so a check costs microseconds.

use crate::auth::Caller;
use crate::principals::Principals;
use base64::Engine;
use iam::condition::Context;
use iam::evaluate::{decide_all, Check, Decision, PolicySet};
use model::Ec2Error;
use model::Instance;
use serde_json::Value;

/// Actions that only read: EC2 denies them without an encoded message.
fn is_read(action: &str) -> bool {
    action.starts_with("Describe") || action.starts_with("Get")
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| match x {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
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

/// The keys every check of a request carries (spec iam.md §2, "Global keys").
pub fn global_context(caller: &Caller, source_ip: Option<std::net::IpAddr>) -> Context {
    let mut global = Context::new();
    global
        .set("aws:PrincipalArn", vec![caller.principal_arn.clone()])
        .set("aws:PrincipalAccount", vec![caller.account.clone()])
        .set("aws:userid", vec![caller.user_id.clone()])
        .set("aws:RequestedRegion", vec![caller.region.clone()])
        .set("ec2:Region", vec![caller.region.clone()])
        .set(
            "aws:PrincipalType",
            vec![match caller.subject {
                iam::registry::Subject::Root => "Account",
                iam::registry::Subject::User(_) => "User",
                iam::registry::Subject::Role(_) => "AssumedRole",
            }
            .to_string()],
        )
        .set("aws:SecureTransport", vec!["false".to_string()])
        .set(
            "aws:CurrentTime",
            vec![time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()],
        )
        .set(
            "aws:EpochTime",
            vec![time::OffsetDateTime::now_utc().unix_timestamp().to_string()],
        );
    if let Some(ip) = source_ip {
        global.set("aws:SourceIp", vec![ip.to_string()]);
    }
    for (k, v) in &caller.context {
        global.set(k, vec![v.clone()]);
    }
    global
}

/// The keys an existing instance brings to a check on it (Service Authorization Reference,
/// "Resource types defined by Amazon EC2", `instance`): its type, placement, profile, tags,
/// and its current metadata options (spec iam.md §2: for ModifyInstanceMetadataOptions the
/// `ec2:Metadata*` keys describe the instance as it is, not the request).
fn instance_keys(ctx: &mut Context, i: &Instance) {
    let m = &i.metadata;
    ctx.set("ec2:InstanceID", vec![i.instance_id.clone()])
        .set("ec2:InstanceType", vec![i.instance_type.clone()])
        .set("ec2:AvailabilityZone", vec![i.availability_zone.clone()])
        .set("ec2:Tenancy", vec!["default".into()])
        .set("ec2:RootDeviceType", vec!["ebs".into()])
        .set("ec2:InstanceMarketType", vec!["on-demand".into()])
        .set(
            "ec2:MetadataHttpTokens",
            vec![m.http_tokens.as_str().into()],
        )
        .set(
            "ec2:MetadataHttpPutResponseHopLimit",
            vec![m.hop_limit.get().to_string()],
        )
        .set(
            "ec2:MetadataHttpEndpoint",
            vec![m.http_endpoint.as_str().into()],
        )
        .set(
            "ec2:InstanceMetadataTags",
            vec![m.instance_metadata_tags.as_str().into()],
        );
    if let Some(p) = &i.iam_instance_profile {
        ctx.set("ec2:InstanceProfile", vec![p.arn.clone()]);
    }
    for t in &i.tags {
        ctx.set(&format!("ec2:ResourceTag/{}", t.key), vec![t.value.clone()]);
        ctx.set(&format!("aws:ResourceTag/{}", t.key), vec![t.value.clone()]);
    }
}

/// `ec2:Attribute/<Param>` for each of `members` the request sends (its value as sent), and
/// `ec2:Attribute` with their names.
fn attribute_keys(ctx: &mut Context, input: &Value, members: &[&str]) {
    for member in members {
        if let Some(v) = s(input, member) {
            ctx.set(&format!("ec2:Attribute/{member}"), vec![v]);
        }
    }
    attribute_names(ctx, input);
}

/// `ec2:Attribute`: the names of the attributes a modify request sets (or the one an
/// `Attribute` parameter names).
fn attribute_names(ctx: &mut Context, input: &Value) {
    if let Some(a) = s(input, "Attribute") {
        ctx.set("ec2:Attribute", vec![a]);
        return;
    }
    let names: Vec<String> = input
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !matches!(k.as_str(), "InstanceId" | "DryRun" | "ImageId"))
        .map(|(k, _)| k.clone())
        .collect();
    if !names.is_empty() {
        ctx.set("ec2:Attribute", names);
    }
}

/// `aws:RequestTag/…` and `aws:TagKeys` of the tags a request puts on `resource_type`.
fn request_tag_keys(ctx: &mut Context, input: &Value, resource_type: &str) {
    let mut keys = Vec::new();
    for spec in input
        .get("TagSpecifications")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if spec.get("ResourceType").and_then(Value::as_str) != Some(resource_type) {
            continue;
        }
        for t in spec
            .get("Tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(k), v) = (s(t, "Key"), s(t, "Value").unwrap_or_default()) {
                ctx.set(&format!("aws:RequestTag/{k}"), vec![v]);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    if !keys.is_empty() {
        ctx.set("aws:TagKeys", keys);
    }
}

/// The `ec2:CreateTags` checks of a create action that tags what it creates (EC2 User Guide,
/// "Grant permission to tag Amazon EC2 resources during creation": "If tags are specified in
/// the resource-creating action, Amazon performs additional authorization on the
/// ec2:CreateTags action"; "The ec2:CreateTags action is also evaluated if tags are provided
/// in a launch template"). One check per resource type the request tags, on that type's
/// `…/*` ARN, with `ec2:CreateAction` = the action and that type's `aws:RequestTag/…` and
/// `aws:TagKeys`. A request that tags nothing needs no `ec2:CreateTags`.
fn tag_on_create_checks(
    action: &str,
    input: &Value,
    caller: &Caller,
    global: &Context,
) -> Vec<(String, Context)> {
    let mut types: Vec<String> = Vec::new();
    for spec in input
        .get("TagSpecifications")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let tagged = spec
            .get("Tags")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty());
        if let (true, Some(rt)) = (tagged, s(spec, "ResourceType")) {
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
            ctx.set("ec2:CreateAction", vec![action.to_string()]);
            request_tag_keys(&mut ctx, input, &rt);
            // Images and snapshots are the ARNs without an account (Service Authorization
            // Reference, Amazon EC2 resource types).
            let arn = match rt.as_str() {
                "image" | "snapshot" => format!("arn:aws:ec2:{region}::{rt}/*"),
                _ => format!("arn:aws:ec2:{region}:{account}:{rt}/*"),
            };
            (arn, ctx)
        })
        .collect()
}

/// (resource ARN, context) of each check an action needs; `instances` are the existing
/// instances the request names.
fn checks(
    action: &str,
    input: &Value,
    caller: &Caller,
    global: Context,
    instances: &[Instance],
) -> Vec<(String, Context)> {
    let (region, account) = (&caller.region, &caller.account);
    let on_instance = |id: &str, mut ctx: Context| {
        if let Some(i) = instances.iter().find(|i| i.instance_id == id) {
            instance_keys(&mut ctx, i);
        } else {
            ctx.set("ec2:InstanceID", vec![id.to_string()]);
        }
        (format!("arn:aws:ec2:{region}:{account}:instance/{id}"), ctx)
    };
    let arn = |kind: &str, id: &str| format!("arn:aws:ec2:{region}:{account}:{kind}/{id}");
    let ids = |key: &str| -> Vec<String> {
        input
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    match action {
        "RunInstances" => {
            let mut inst = global.clone();
            if let Some(m) = input.get("MetadataOptions") {
                for (member, key) in OPTION_KEYS {
                    if let Some(v) = s(m, member) {
                        inst.set(key, vec![v]);
                    }
                }
            }
            if let Some(t) = s(input, "InstanceType") {
                inst.set("ec2:InstanceType", vec![t]);
            }
            if let Some(p) = input.get("IamInstanceProfile") {
                let arn = s(p, "Arn").or_else(|| {
                    s(p, "Name").map(|n| format!("arn:aws:iam::{account}:instance-profile/{n}"))
                });
                if let Some(arn) = arn {
                    inst.set("ec2:InstanceProfile", vec![arn]);
                }
            }
            request_tag_keys(&mut inst, input, "instance");
            let mut on_resource = global.clone();
            if let Some(id) = input
                .get("LaunchTemplate")
                .and_then(|t| s(t, "LaunchTemplateId"))
            {
                let template = arn("launch-template", &id);
                inst.set("ec2:LaunchTemplate", vec![template.clone()]);
                on_resource.set("ec2:LaunchTemplate", vec![template]);
            }
            let image = s(input, "ImageId").unwrap_or_default();
            let mut image_ctx = on_resource.clone();
            image_ctx.set("ec2:ImageID", vec![image.clone()]);
            // The resources a launch touches, named where the request names them (Service
            // Authorization Reference, RunInstances: image, instance, network-interface,
            // security-group, subnet, volume; key-pair and launch-template when used).
            let groups = ids("SecurityGroupIds");
            let mut list = vec![
                (format!("arn:aws:ec2:{region}::image/{image}"), image_ctx),
                (arn("instance", "*"), inst),
                (arn("network-interface", "*"), on_resource.clone()),
                (
                    arn(
                        "subnet",
                        &s(input, "SubnetId").unwrap_or_else(|| "*".into()),
                    ),
                    on_resource.clone(),
                ),
                (arn("volume", "*"), on_resource.clone()),
            ];
            if groups.is_empty() {
                list.push((arn("security-group", "*"), on_resource.clone()));
            }
            for g in groups {
                list.push((arn("security-group", &g), on_resource.clone()));
            }
            if let Some(k) = s(input, "KeyName") {
                list.push((arn("key-pair", &k), on_resource.clone()));
            }
            if let Some(t) = on_resource
                .get("ec2:LaunchTemplate")
                .and_then(|v| v.first())
            {
                list.push((t.clone(), on_resource.clone()));
            }
            list
        }
        "ModifyInstanceMetadataOptions" => {
            let mut ctx = global;
            attribute_keys(
                &mut ctx,
                input,
                &[
                    "HttpTokens",
                    "HttpPutResponseHopLimit",
                    "HttpEndpoint",
                    "HttpProtocolIpv6",
                    "InstanceMetadataTags",
                ],
            );
            let id = s(input, "InstanceId").unwrap_or_default();
            // The request's own values are the `ec2:Attribute/…` keys above; the instance
            // keys describe the instance as it is.
            vec![on_instance(&id, ctx)]
        }
        "ModifyInstanceMetadataDefaults" => {
            let mut ctx = global;
            attribute_keys(
                &mut ctx,
                input,
                &[
                    "HttpTokens",
                    "HttpTokensEnforced",
                    "HttpPutResponseHopLimit",
                    "HttpEndpoint",
                    "InstanceMetadataTags",
                ],
            );
            vec![("*".into(), ctx)]
        }
        // Service Authorization Reference: instance-level actions (resource type `instance`).
        "ModifyInstanceAttribute" | "DescribeInstanceAttribute" => {
            let mut ctx = global;
            attribute_names(&mut ctx, input);
            vec![on_instance(
                &s(input, "InstanceId").unwrap_or_default(),
                ctx,
            )]
        }
        "StartInstances" | "StopInstances" | "RebootInstances" | "TerminateInstances" => {
            ids("InstanceIds")
                .iter()
                .map(|i| on_instance(i, global.clone()))
                .collect()
        }
        // EC2 User Guide, "Grant permissions to attach an IAM role to an instance"
        // (permission-to-pass-iam-roles.html): ec2:AssociateIamInstanceProfile,
        // ec2:ReplaceIamInstanceProfileAssociation and ec2:DisassociateIamInstanceProfile, each
        // on the instance (Service Authorization Reference: resource type `instance*`), plus
        // iam:PassRole for the profile's role (see `authorize`).
        "AssociateIamInstanceProfile" => {
            vec![on_instance(
                &s(input, "InstanceId").unwrap_or_default(),
                global,
            )]
        }
        // These name an association: the server found its instance (none when the id is not
        // an association of the caller's; the handler then says so).
        "ReplaceIamInstanceProfileAssociation" | "DisassociateIamInstanceProfile" => {
            match instances.first() {
                Some(i) => vec![on_instance(&i.instance_id, global)],
                None => vec![(arn("instance", "*"), global)],
            }
        }
        // Service Authorization Reference, Amazon EC2: CreateVpc on `vpc/*` (with the request
        // tags); CreateSubnet on `subnet/*` (request tags) and on the VPC it goes in;
        // DeleteVpc and DeleteSubnet on the resource.
        "CreateVpc" => {
            let mut ctx = global;
            request_tag_keys(&mut ctx, input, "vpc");
            vec![(arn("vpc", "*"), ctx)]
        }
        "CreateSubnet" => {
            let mut ctx = global.clone();
            request_tag_keys(&mut ctx, input, "subnet");
            let vpc = s(input, "VpcId").unwrap_or_default();
            vec![(arn("subnet", "*"), ctx), (arn("vpc", &vpc), global)]
        }
        "DeleteVpc" => vec![(arn("vpc", &s(input, "VpcId").unwrap_or_default()), global)],
        "DeleteSubnet" => vec![(
            arn("subnet", &s(input, "SubnetId").unwrap_or_default()),
            global,
        )],
        "ModifyImageAttribute" | "DescribeImageAttribute" => {
            let image = s(input, "ImageId").unwrap_or_default();
            let mut ctx = global;
            ctx.set("ec2:ImageID", vec![image.clone()]);
            attribute_names(&mut ctx, input);
            vec![(format!("arn:aws:ec2:{region}::image/{image}"), ctx)]
        }
        _ => vec![("*".into(), global)],
    }
}

/// The message of a denial; mutating actions carry an encoded authorization message that
/// `sts:DecodeAuthorizationMessage` will turn back into the decision.
/// The context keys of a check, sorted (for the encoded message).
fn list_context(ctx: Option<&Context>) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = ctx
        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn denial(action: &str, caller: &Caller, d: &Decision, context: Option<&Context>) -> Ec2Error {
    if is_read(action) {
        return Ec2Error::UnauthorizedOperation(
            "You are not authorized to perform this operation.".into(),
        );
    }
    let items = |v: Vec<serde_json::Value>| serde_json::json!({ "items": v });
    // The statement's principal as IAM reports it: the unique id (a role's AROA…).
    let principal_id = caller.user_id.split(':').next().unwrap_or_default();
    let value = |s: &str| serde_json::json!({ "value": s });
    let matched: Vec<serde_json::Value> = d
        .matched
        .iter()
        .map(|m| {
            serde_json::json!({
                "statementId": m.sid.clone().unwrap_or_default(),
                "effect": if m.effect == iam::policy::Effect::Deny { "DENY" } else { "ALLOW" },
                "principals": items(vec![value(principal_id)]),
                "principalGroups": items(vec![]),
                "actions": items(m.statement.action.patterns.iter().map(|p| value(p)).collect()),
                "resources": items(m.statement.resource.patterns.iter().map(|p| value(p)).collect()),
                "conditions": items(m.statement.conditions.iter().map(|c| serde_json::json!({
                    "key": c.key,
                    "values": items(c.values.iter().map(|v| value(v)).collect()),
                })).collect()),
            })
        })
        .collect();
    let context_items: Vec<serde_json::Value> = list_context(context)
        .into_iter()
        .map(|(k, vs)| serde_json::json!({"key": k, "values": items(vs.iter().map(|v| value(v)).collect())}))
        .collect();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::json!({
            "allowed": false,
            "explicitDeny": d.explicit_deny(),
            "matchedStatements": items(matched),
            "failures": items(vec![]),
            "context": {
                "principal": {"id": caller.user_id, "arn": caller.arn},
                "action": d.action,
                "resource": d.resource,
                "conditions": items(context_items),
            },
        })
        .to_string(),
    );
    Ec2Error::UnauthorizedOperation(format!(
        "You are not authorized to perform this operation. User: {} is not authorized to perform: {} on resource: {} {}. Encoded authorization failure message: {encoded}",
        caller.arn,
        d.action,
        d.resource,
        d.reason()
    ))
}

/// The decision for `caller` performing `action` (`ec2:RunInstances`, `sts:AssumeRole`, …) on
/// every resource of `checks`: explicit deny wins; SCPs (unless the management account),
/// identity policies, and a boundary or session policy when present must allow.
pub fn decide_for(
    principals: &Principals,
    caller: &Caller,
    action: &str,
    checks: &[(String, Context)],
) -> Decision {
    let registry = principals.registry();
    let mine = registry.policies_of(&caller.account, &caller.subject);
    let directory = principals.directory.as_deref();
    let set = PolicySet {
        identity: mine.identity.iter().map(|p| p.as_ref()).collect(),
        scp_levels: directory
            .map(|d| {
                d.scp_levels(&caller.account)
                    .iter()
                    .map(|level| level.iter().collect())
                    .collect()
            })
            .unwrap_or_default(),
        boundary: mine.boundary.as_deref(),
        session: caller.session_policy.as_deref(),
        management_account: directory.is_some_and(|d| d.is_management(&caller.account)),
    };
    let check_refs: Vec<Check<'_>> = checks
        .iter()
        .map(|(r, c)| Check {
            action,
            resource: r,
            context: c,
        })
        .collect();
    decide_all(&set, &check_refs)
}

/// The actions authorized on the existing instances they name (resource type `instance`),
/// whose checks carry the instances' own keys: the store is read for these only.
const ON_INSTANCES: &[&str] = &[
    "ModifyInstanceMetadataOptions",
    "ModifyInstanceAttribute",
    "DescribeInstanceAttribute",
    "StartInstances",
    "StopInstances",
    "RebootInstances",
    "TerminateInstances",
    "AssociateIamInstanceProfile",
    "ReplaceIamInstanceProfileAssociation",
    "DisassociateIamInstanceProfile",
];

/// Whether authorizing `action` needs the instances the request names ([`Facts::instances`]).
pub fn checks_instances(action: &str) -> bool {
    ON_INSTANCES.contains(&action)
}

/// What an EC2 request brings to its authorization beyond its parameters.
pub struct Facts<'a> {
    pub source_ip: Option<std::net::IpAddr>,
    /// The existing instances the request names.
    pub instances: &'a [Instance],
    /// The role of the instance profile a launch, an association or its replacement passes
    /// (`iam:PassRole`).
    pub passed_role: Option<String>,
}

/// Authorize an EC2 `action` with IAM configured. A launch that passes a role to its
/// instance also needs `iam:PassRole` on that role (EC2 User Guide, "IAM roles for EC2":
/// "the user launching the instance must have iam:PassRole"), and so do
/// AssociateIamInstanceProfile and ReplaceIamInstanceProfileAssociation (EC2 User Guide,
/// "Grant permissions to attach an IAM role to an instance").
pub fn authorize(
    principals: &Principals,
    action: &str,
    input: &Value,
    caller: &Caller,
    facts: &Facts<'_>,
) -> Result<(), Ec2Error> {
    let name = format!("ec2:{action}");
    let global = global_context(caller, facts.source_ip);
    let list = checks(action, input, caller, global.clone(), facts.instances);
    let d = decide_for(principals, caller, &name, &list);
    if !d.allowed() {
        let context = list.iter().find(|(r, _)| *r == d.resource).map(|(_, c)| c);
        return Err(denial(action, caller, &d, context));
    }
    // Tag-on-create: checked after the action itself. UNCONFIRMED: the order of this check
    // and `iam:PassRole` when both would deny.
    let tagging = tag_on_create_checks(action, input, caller, &global);
    if !tagging.is_empty() {
        let d = decide_for(principals, caller, "ec2:CreateTags", &tagging);
        if !d.allowed() {
            let context = tagging
                .iter()
                .find(|(r, _)| *r == d.resource)
                .map(|(_, c)| c);
            return Err(denial(action, caller, &d, context));
        }
    }
    if let Some(role) = &facts.passed_role {
        let pass = [(role.clone(), global)];
        let d = decide_for(principals, caller, "iam:PassRole", &pass);
        if !d.allowed() {
            return Err(denial(action, caller, &d, Some(&pass[0].1)));
        }
    }
    Ok(())
}

/// Authorize `action` (`ec2:DescribeInstances`, …) on one existing instance, with its own
/// keys, outside an EC2 request: imds's admin routes about an instance (its loopback
/// metadata endpoint) ask what DescribeInstances on that instance would be allowed.
pub fn authorize_on_instance(
    principals: &Principals,
    action: &str,
    caller: &Caller,
    source_ip: Option<std::net::IpAddr>,
    instance: &Instance,
) -> Result<(), Ec2Error> {
    let mut ctx = global_context(caller, source_ip);
    instance_keys(&mut ctx, instance);
    let arn = format!(
        "arn:aws:ec2:{}:{}:instance/{}",
        instance.scope.region, instance.scope.account, instance.instance_id
    );
    let list = [(arn, ctx)];
    let d = decide_for(principals, caller, action, &list);
    if d.allowed() {
        return Ok(());
    }
    let short = action.strip_prefix("ec2:").unwrap_or(action);
    Err(denial(short, caller, &d, Some(&list[0].1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The actions [`checks_instances`] names are exactly those whose checks carry the named
    /// instance's keys: the store is read for them, and for no other.
    #[test]
    fn instance_keys_only_where_the_instances_are_read() {
        let mut i = model::testing::instance("t3.micro");
        i.tags.push(model::tags::Tag {
            key: "env".into(),
            value: "dev".into(),
        });
        let caller = Caller::root(
            "123456789012",
            None,
            "us-east-1".into(),
            crate::Service::Ec2,
        );
        let id = i.instance_id.clone();
        for action in crate::actions::Action::ALL.iter().map(|a| a.name()) {
            let input = serde_json::json!({"InstanceId": id, "InstanceIds": [id]});
            let list = checks(
                action,
                &input,
                &caller,
                Context::new(),
                std::slice::from_ref(&i),
            );
            let carries = list
                .iter()
                .any(|(_, c)| c.get("ec2:ResourceTag/env").is_some());
            assert_eq!(carries, checks_instances(action), "{action}");
        }
    }
}
