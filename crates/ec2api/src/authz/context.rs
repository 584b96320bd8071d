//! The request context of a check: the keys every check carries (global keys), those an
//! existing instance brings, those of the tags a request puts on what it creates, and
//! `ec2:Attribute` with `ec2:Attribute/<Member>` of a modify request.

use crate::actions::TagSpecificationIn;
use crate::auth::Caller;
use iam::condition::Context;
use model::Instance;

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
        // No request here is made by an AWS service, or by one for a principal (IAM User
        // Guide, global condition keys: present in every signed request).
        .set("aws:PrincipalIsAWSService", vec!["false".to_string()])
        .set("aws:ViaAWSService", vec!["false".to_string()])
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
pub(super) fn instance_keys(ctx: &mut Context, i: &Instance) {
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

/// `aws:RequestTag/…` and `aws:TagKeys` of the tags a request puts on `resource_type`.
pub(super) fn request_tag_keys(
    ctx: &mut Context,
    specs: &[TagSpecificationIn],
    resource_type: &str,
) {
    let mut keys = Vec::new();
    for spec in specs {
        if spec.resource_type.as_deref() != Some(resource_type) {
            continue;
        }
        for t in &spec.tags {
            if let Some(k) = &t.key {
                let v = t.value.clone().unwrap_or_default();
                ctx.set(&format!("aws:RequestTag/{k}"), vec![v]);
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
    }
    if !keys.is_empty() {
        ctx.set("aws:TagKeys", keys);
    }
}
