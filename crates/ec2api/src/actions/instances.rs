//! RunInstances, DescribeInstances, the lifecycle actions and DescribeInstanceStatus.

use super::{
    dry_run, encode_token, filters, ids_without_max, instance_id, instance_ids, max_results,
    now_ms, page_after, page_in_memory, random, tags_for, FilterIn, TagSpecificationIn,
};
use crate::context::Ctx;
use crate::render;
use base64::Engine;
use model::catalogue::{self, Hypervisor};
use model::filter::{self, INSTANCE_FILTERS};
use model::ids;
use model::instance::{IamProfileRef, Instance, InstanceState, StateChange, Transition};
use model::options::{HttpProtocolIpv6, OptionsPatch};
use model::precedence;
use model::profile_association::{ProfileAssociation, ASSOCIATION};
use model::{Ec2Error, Scope};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use store::{InstanceQuery, LaunchRequest};

/// `MetadataOptions` of RunInstances and of launch template data (same members).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetadataOptionsIn {
    pub http_tokens: Option<String>,
    pub http_put_response_hop_limit: Option<i64>,
    pub http_endpoint: Option<String>,
    pub http_protocol_ipv6: Option<String>,
    pub instance_metadata_tags: Option<String>,
}

impl MetadataOptionsIn {
    /// Parse with EC2's wording; `name` renames a parameter in messages (launch templates
    /// call HttpEndpoint `http-endpoint`).
    pub fn patch(&self, name: impl Fn(&'static str) -> String) -> Result<OptionsPatch, Ec2Error> {
        OptionsPatch::parse(
            self.http_tokens.as_deref(),
            self.http_put_response_hop_limit,
            self.http_endpoint.as_deref(),
            self.http_protocol_ipv6.as_deref(),
            self.instance_metadata_tags.as_deref(),
            name,
        )
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamInstanceProfileIn {
    pub arn: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LaunchTemplateSpecIn {
    launch_template_id: Option<String>,
    launch_template_name: Option<String>,
    version: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PlacementIn {
    availability_zone: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnabledIn {
    enabled: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfiguredIn {
    configured: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreditSpecificationIn {
    cpu_credits: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunInstancesIn {
    image_id: Option<String>,
    instance_type: Option<String>,
    min_count: i64,
    max_count: i64,
    key_name: Option<String>,
    #[serde(default)]
    security_group_ids: Vec<String>,
    #[serde(default)]
    security_groups: Vec<String>,
    subnet_id: Option<String>,
    private_ip_address: Option<String>,
    user_data: Option<String>,
    client_token: Option<String>,
    metadata_options: Option<MetadataOptionsIn>,
    #[serde(default)]
    tag_specifications: Vec<TagSpecificationIn>,
    iam_instance_profile: Option<IamInstanceProfileIn>,
    launch_template: Option<LaunchTemplateSpecIn>,
    placement: Option<PlacementIn>,
    monitoring: Option<EnabledIn>,
    disable_api_termination: Option<bool>,
    disable_api_stop: Option<bool>,
    ebs_optimized: Option<bool>,
    instance_initiated_shutdown_behavior: Option<String>,
    hibernation_options: Option<ConfiguredIn>,
    credit_specification: Option<CreditSpecificationIn>,
    dry_run: Option<bool>,
    /// Not a request member: the first instance of a new data dir starts out running.
    #[serde(skip)]
    already_running: bool,
}

/// What a launch template version contributes to a launch (the request wins field by field).
#[derive(Debug, Default)]
pub struct TemplateLaunch {
    pub template: Option<(String, String)>,
    pub image_id: Option<String>,
    pub instance_type: Option<String>,
    pub key_name: Option<String>,
    pub metadata: OptionsPatch,
    pub iam_instance_profile: Option<IamInstanceProfileIn>,
    pub user_data: Option<String>,
    pub instance_tags: Vec<model::tags::Tag>,
    pub security_group_ids: Vec<String>,
    pub disable_api_termination: Option<bool>,
    pub disable_api_stop: Option<bool>,
    pub ebs_optimized: Option<bool>,
    pub shutdown_behavior: Option<String>,
}

fn check_image(id: &str, own: &[model::image::Image]) -> Result<model::image::Image, Ec2Error> {
    if !ids::is_well_formed(id, ids::IMAGE) {
        return Err(Ec2Error::InvalidAmiIdMalformed(id.to_string()));
    }
    catalogue::public_image(id)
        .or_else(|| own.iter().find(|i| i.image_id == id).cloned())
        .ok_or_else(|| Ec2Error::InvalidAmiIdNotFound(id.to_string()))
}

/// The instance profile of a launch. A profile created through the IAM API gives its ARN, id
/// and role; with IAM configured, a profile IAM does not know is refused as EC2 refuses it.
pub(super) fn iam_profile(
    ctx: &Ctx<'_>,
    p: &IamInstanceProfileIn,
) -> Result<IamProfileRef, Ec2Error> {
    let account = &ctx.scope.account;
    let registry = ctx.api.principals.registry();
    let known = registry.account(account).and_then(|a| {
        a.profile_by_ref(
            p.arn.as_deref().filter(|s| !s.is_empty()),
            p.name.as_deref().filter(|s| !s.is_empty()),
        )
    });
    if let Some(k) = known {
        return Ok(IamProfileRef {
            arn: k.arn.clone(),
            id: k.id.clone(),
            role: k.roles.first().cloned(),
        });
    }
    if ctx.api.iam_enforced() {
        return Err(match (&p.arn, &p.name) {
            (Some(arn), _) if !arn.is_empty() => Ec2Error::InvalidParameterValue(format!(
                "Value ({arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"
            )),
            (_, Some(name)) if !name.is_empty() => Ec2Error::InvalidParameterValue(format!(
                "Value ({name}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
            )),
            _ => Ec2Error::InvalidParameterValue(
                "Value () for parameter iamInstanceProfile is invalid. The value cannot be empty"
                    .into(),
            ),
        });
    }
    let arn = match (&p.arn, &p.name) {
        (Some(arn), _) if !arn.is_empty() => {
            if !arn.starts_with("arn:aws:iam::") || !arn.contains(":instance-profile/") {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Value ({arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"
                )));
            }
            arn.clone()
        }
        (_, Some(name)) if !name.is_empty() => {
            format!("arn:aws:iam::{account}:instance-profile/{name}")
        }
        _ => {
            return Err(Ec2Error::InvalidParameterValue(
                "Value () for parameter iamInstanceProfile is invalid. The value cannot be empty"
                    .into(),
            ))
        }
    };
    // A stable id per profile, in IAM's format (AIPA + 17 characters).
    let id = format!(
        "AIPA{:017X}",
        arn.bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
    );
    Ok(IamProfileRef {
        arn,
        id: id[..21].to_string(),
        role: None,
    })
}

/// A digest of everything a launch asked for but its client token and DryRun.
fn fingerprint(req: &RunInstancesIn) -> String {
    use sha2::{Digest, Sha256};
    let mut r = req.clone();
    r.client_token = None;
    r.dry_run = None;
    hex::encode(Sha256::digest(format!("{r:?}").as_bytes()))
}

pub async fn run_instances(ctx: &Ctx<'_>, req: RunInstancesIn) -> Result<Value, Ec2Error> {
    let launch_fingerprint = fingerprint(&req);
    // --- syntax ---
    if req.min_count < 1 {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Value ({}) for parameter minCount is invalid. Expected a value greater than 0.",
            req.min_count
        )));
    }
    if req.max_count < 1 {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Value ({}) for parameter maxCount is invalid. Expected a value greater than 0.",
            req.max_count
        )));
    }
    if req.min_count > req.max_count {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Value ({}) for parameter minCount is invalid. Expected a value less than or equal to maxCount ({}).",
            req.min_count, req.max_count
        )));
    }
    if req.max_count > 1000 {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Value ({}) for parameter maxCount is invalid. imds launches at most 1000 instances per call.",
            req.max_count
        )));
    }
    let request_options = match &req.metadata_options {
        Some(m) => m.patch(|p| p.to_string())?,
        None => OptionsPatch::default(),
    };
    if let Some(b) = &req.instance_initiated_shutdown_behavior {
        if b != "stop" && b != "terminate" {
            return Err(Ec2Error::invalid_enum(
                b,
                "InstanceInitiatedShutdownBehavior",
                &["stop", "terminate"],
            ));
        }
    }
    if let Some(c) = req
        .credit_specification
        .as_ref()
        .and_then(|c| c.cpu_credits.as_deref())
        .filter(|c| !c.is_empty())
    {
        if c != "standard" && c != "unlimited" {
            return Err(Ec2Error::invalid_enum(
                c,
                "CpuCredits",
                &["standard", "unlimited"],
            ));
        }
    }
    if let Some(ud) = &req.user_data {
        if base64::engine::general_purpose::STANDARD
            .decode(ud.trim())
            .is_err()
        {
            return Err(Ec2Error::InvalidParameterValue(
                "Invalid BASE64 encoding of user data.".into(),
            ));
        }
    }
    let private_ip = match &req.private_ip_address {
        Some(s) => Some(s.parse::<Ipv4Addr>().map_err(|_| {
            Ec2Error::InvalidParameterValue(format!(
                "Value ({s}) for parameter privateIpAddress is invalid. Invalid format."
            ))
        })?),
        None => None,
    };
    if private_ip.is_some() && req.max_count > 1 {
        return Err(Ec2Error::InvalidParameterCombination(
            "Cannot specify a private IP address when launching more than one instance.".into(),
        ));
    }
    let request_tags = tags_for(
        &req.tag_specifications,
        "instance",
        &[
            "instance",
            "volume",
            "network-interface",
            "spot-instances-request",
        ],
    )?;

    // --- launch template ---
    let tpl = match &req.launch_template {
        Some(spec) => {
            super::templates::for_launch(
                ctx,
                spec.launch_template_id.as_deref(),
                spec.launch_template_name.as_deref(),
                spec.version.as_deref(),
            )
            .await?
        }
        None => TemplateLaunch::default(),
    };
    let launch_options = request_options.over(&tpl.metadata);

    // --- resources ---
    let image_id = req
        .image_id
        .clone()
        .or(tpl.image_id.clone())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Ec2Error::MissingParameter("ImageId".into()))?;
    let own_images = ctx.api.store.images(&ctx.scope).await?;
    let image = check_image(&image_id, &own_images)?;
    let type_name = req
        .instance_type
        .clone()
        .or(tpl.instance_type.clone())
        .unwrap_or_else(|| catalogue::DEFAULT_INSTANCE_TYPE.to_string());
    // EC2's wording, as reported against real EC2 in getmoto/moto#1695.
    let itype = catalogue::instance_type(&type_name).ok_or_else(|| {
        Ec2Error::InvalidParameterValue(format!("Invalid value '{type_name}' for InstanceType."))
    })?;
    if itype.architecture != image.architecture {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The architecture '{}' of the specified instance type does not match the architecture '{}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.",
            itype.architecture, image.architecture
        )));
    }
    if launch_options.http_protocol_ipv6 == Some(HttpProtocolIpv6::Enabled)
        && itype.hypervisor == Hypervisor::Xen
    {
        return Err(model::instance::xen_ipv6_error());
    }
    let vpc = catalogue::default_vpc(&ctx.scope.region);
    // Terraform sends `Placement.AvailabilityZone=` (empty) when none is chosen: EC2 reads
    // an empty value as "not set". A subnet of one's own VPC is found in the store; without
    // a subnet, the launch goes to a default subnet (of the zone asked for).
    let subnet = match (
        req.subnet_id.as_ref().filter(|s| !s.is_empty()),
        req.placement
            .as_ref()
            .and_then(|p| p.availability_zone.as_ref())
            .filter(|s| !s.is_empty()),
    ) {
        (Some(id), _) => super::vpcs::subnet_by_id(ctx, id).await?,
        (None, Some(az)) => vpc
            .subnets
            .iter()
            .find(|s| &s.availability_zone == az)
            .cloned()
            .ok_or_else(|| {
                Ec2Error::InvalidParameterValue(format!("Invalid availability zone: [{az}]"))
            })?,
        (None, None) => vpc.subnets[(random() % vpc.subnets.len() as u64) as usize].clone(),
    };
    // UNCONFIRMED: EC2's answer to a zone that is not the subnet's.
    if let Some(az) = req
        .placement
        .as_ref()
        .and_then(|p| p.availability_zone.as_ref())
        .filter(|s| !s.is_empty())
    {
        if *az != subnet.availability_zone {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Value ({az}) for parameter availabilityZone is invalid. Subnet {} is in availability zone {}",
                subnet.subnet_id, subnet.availability_zone
            )));
        }
    }
    let profile = match req
        .iam_instance_profile
        .as_ref()
        .or(tpl.iam_instance_profile.as_ref())
    {
        Some(p) => Some(iam_profile(ctx, p)?),
        None => None,
    };
    let mut tags = tpl.instance_tags.clone();
    model::tags::upsert(&mut tags, &request_tags)?;
    // EC2 tags an instance launched from a template with the template and version (EC2 user
    // guide, "Launch an instance from a launch template"); Terraform's aws_instance reads its
    // `launch_template` back from these tags (DescribeTags).
    if let Some((id, version)) = &tpl.template {
        for (key, value) in [
            ("aws:ec2launchtemplate:id", id),
            ("aws:ec2launchtemplate:version", version),
        ] {
            tags.push(model::tags::Tag {
                key: key.into(),
                value: value.clone(),
            });
        }
    }
    if let Some(name) = req.security_groups.iter().find(|n| n.as_str() != "default") {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The security group '{name}' does not exist in default VPC '{}'",
            vpc.vpc.vpc_id
        )));
    }
    let security_groups: Vec<(String, String)> =
        if req.security_group_ids.is_empty() && tpl.security_group_ids.is_empty() {
            vec![(
                default_security_group(&subnet.vpc_id),
                "default".to_string(),
            )]
        } else {
            req.security_group_ids
                .iter()
                .chain(tpl.security_group_ids.iter())
                .map(|g| {
                    (
                        g.clone(),
                        if *g == default_security_group(&subnet.vpc_id) {
                            "default".into()
                        } else {
                            g.clone()
                        },
                    )
                })
                .collect()
        };

    // --- the launch, decided inside the write transaction ---
    let now = now_ms();
    let delay = ctx.api.config.transition_delay.as_millis() as i64;
    let scope = ctx.scope.clone();
    let count = req.max_count as u32;
    let is_dry = req.dry_run == Some(true);
    let reservation_id = ids::new_id(ids::RESERVATION, random());
    let template = tpl.template.clone();
    let proto = Instance {
        instance_id: String::new(),
        scope: scope.clone(),
        reservation_id,
        image_id: image.image_id.clone(),
        instance_type: itype.name.to_string(),
        state: InstanceState::Pending,
        transition: Some(Transition {
            to: InstanceState::Running,
            due_ms: now + delay,
        }),
        state_transition_reason: String::new(),
        state_reason: Some(model::instance::StateReason {
            code: "pending".into(),
            message: "pending".into(),
        }),
        launch_time_ms: now - now.rem_euclid(1000),
        private_ip: Ipv4Addr::UNSPECIFIED,
        subnet_id: subnet.subnet_id.clone(),
        vpc_id: subnet.vpc_id.clone(),
        availability_zone: subnet.availability_zone.clone(),
        network: Some(model::instance::NetworkPlacement {
            subnet_cidr: subnet.cidr,
            vpc_cidr: super::vpcs::vpc_cidr_of(ctx, &subnet.vpc_id).await?,
            availability_zone_id: subnet.availability_zone_id.clone(),
        }),
        network_interface_id: String::new(),
        mac_address: String::new(),
        root_volume_id: String::new(),
        ami_launch_index: 0,
        key_name: req.key_name.clone().or(tpl.key_name.clone()),
        security_groups,
        iam_instance_profile: profile,
        profile_association: None,
        // An empty value is no user data: Terraform writes `LaunchTemplateData.UserData=`
        // into every template, and an instance launched from one has none.
        user_data: req
            .user_data
            .clone()
            .or(tpl.user_data.clone())
            .filter(|u| !u.trim().is_empty()),
        client_token: req.client_token.clone().filter(|t| !t.is_empty()),
        launch_fingerprint: Some(launch_fingerprint.clone()),
        ebs_optimized: req.ebs_optimized.or(tpl.ebs_optimized).unwrap_or(false),
        disable_api_termination: req
            .disable_api_termination
            .or(tpl.disable_api_termination)
            .unwrap_or(false),
        disable_api_stop: req
            .disable_api_stop
            .or(tpl.disable_api_stop)
            .unwrap_or(false),
        monitoring: req
            .monitoring
            .as_ref()
            .and_then(|m| m.enabled)
            .unwrap_or(false),
        shutdown_behavior: req
            .instance_initiated_shutdown_behavior
            .clone()
            .or(tpl.shutdown_behavior.clone())
            .unwrap_or_else(|| "stop".into()),
        hibernation: req
            .hibernation_options
            .as_ref()
            .and_then(|h| h.configured)
            .unwrap_or(false),
        cpu_credits: if itype.burstable {
            Some(
                req.credit_specification
                    .as_ref()
                    .and_then(|c| c.cpu_credits.clone())
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| catalogue::default_cpu_credits(itype).into()),
            )
        } else {
            None
        },
        source_dest_check: true,
        launch_template: template,
        metadata: model::MetadataOptions::BUILT_IN,
        options_generation: 1,
        applied_generation: 0,
        applied_metadata: None,
        tags,
        terminated_at_ms: None,
    };
    let ami_support = image.imds_support;
    let already_running = req.already_running;
    let outcome = ctx
        .api
        .store
        .launch(
            &scope,
            LaunchRequest {
                count,
                client_token: if is_dry {
                    None
                } else {
                    proto.client_token.clone()
                },
                subnet_id: subnet.subnet_id.clone(),
                private_ip,
            },
            Box::new(move |lc| {
                let options = precedence::resolve(&launch_options, &lc.defaults, ami_support);
                precedence::check_enforcement(&options, &lc.defaults)?;
                if options.instance_metadata_tags.is_enabled() {
                    if let Some(bad) = proto
                        .tags
                        .iter()
                        .find(|t| !model::tags::is_metadata_safe(&t.key))
                    {
                        return Err(model::tags::metadata_unsafe_error(&bad.key));
                    }
                }
                dry_run(Some(is_dry))?;
                Ok(lc
                    .addresses
                    .iter()
                    .enumerate()
                    .map(|(n, ip)| {
                        let mut i = proto.clone();
                        i.instance_id = ids::new_id(ids::INSTANCE, random());
                        i.network_interface_id = ids::new_id(ids::NETWORK_INTERFACE, random());
                        i.root_volume_id = ids::new_id(ids::VOLUME, random());
                        let r = random().to_be_bytes();
                        i.mac_address = format!(
                            "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                            r[0], r[1], r[2], r[3], r[4]
                        );
                        i.private_ip = *ip;
                        i.ami_launch_index = n as u32;
                        i.metadata = options;
                        // A launch with a profile makes an association of its own, listed
                        // by DescribeIamInstanceProfileAssociations as on EC2.
                        i.profile_association = i.iam_instance_profile.clone().map(|p| {
                            ProfileAssociation::at_launch(
                                ids::new_id(ASSOCIATION, random()),
                                p,
                                now,
                            )
                        });
                        if already_running {
                            i.state = InstanceState::Running;
                            i.transition = None;
                            i.state_reason = None;
                            i.applied_generation = i.options_generation;
                            i.applied_metadata = Some(options);
                        }
                        i
                    })
                    .collect())
            }),
        )
        .await?;
    if outcome.replayed
        && outcome
            .instances
            .iter()
            .any(|i| i.launch_fingerprint.as_deref() != Some(launch_fingerprint.as_str()))
    {
        return Err(Ec2Error::IdempotentParameterMismatch(
            "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).".into(),
        ));
    }
    let mut out = render::reservations(&outcome.instances);
    match out.as_array_mut().and_then(|a| a.pop()) {
        Some(r) => Ok(r),
        None => Err(Ec2Error::InternalError),
    }
}

pub use super::vpcs::default_security_group;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstancesIn {
    instance_ids: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const INSTANCES_TOKEN: &str = "instances";

/// `InstanceId.N` or `MaxResults`, not both (spec ec2-api.md §6, case 35).
fn ids_or_pages(
    ids: &Option<Vec<String>>,
    max: Option<i64>,
) -> Result<(Option<Vec<String>>, Option<u32>), Ec2Error> {
    let ids = match ids {
        Some(list) if !list.is_empty() => Some(instance_ids(list, "InstanceId")?),
        _ => None,
    };
    ids_without_max(ids.as_deref().unwrap_or_default(), max, "instancesSet")?;
    Ok((ids, max_results(max)?))
}

pub async fn describe_instances(
    ctx: &Ctx<'_>,
    req: DescribeInstancesIn,
) -> Result<Value, Ec2Error> {
    let (ids, limit) = ids_or_pages(&req.instance_ids, req.max_results)?;
    let after = page_after(INSTANCES_TOKEN, &req.next_token)?;
    let filters = filters(req.filters)?;
    filter::validate(&filters, INSTANCE_FILTERS)?;
    dry_run(req.dry_run)?;
    let page = ctx
        .api
        .store
        .describe_instances(
            &ctx.scope,
            &InstanceQuery {
                ids,
                filters,
                after,
                limit,
            },
        )
        .await?;
    let mut out = json!({ "Reservations": render::reservations(&page.instances) });
    if let Some(next) = page.next {
        out["NextToken"] = json!(encode_token(INSTANCES_TOKEN, next));
    }
    Ok(out)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceIdsIn {
    #[serde(default)]
    instance_ids: Vec<String>,
    force: Option<bool>,
    dry_run: Option<bool>,
}

fn state_changes(changes: &[StateChange]) -> Value {
    Value::Array(
        changes
            .iter()
            .map(|c| {
                json!({
                    "InstanceId": c.instance_id,
                    "CurrentState": {"Code": c.current.code(), "Name": c.current.as_str()},
                    "PreviousState": {"Code": c.previous.code(), "Name": c.previous.as_str()},
                })
            })
            .collect(),
    )
}

type Transit = fn(&mut Instance, i64, i64, bool) -> Result<StateChange, Ec2Error>;

async fn transit(
    ctx: &Ctx<'_>,
    req: InstanceIdsIn,
    member: &str,
    op: Transit,
) -> Result<Value, Ec2Error> {
    let ids = instance_ids(&req.instance_ids, "InstanceId")?;
    let is_dry = req.dry_run == Some(true);
    let force = req.force == Some(true);
    let delay = ctx.api.config.transition_delay.as_millis() as i64;
    let now = now_ms();
    let results = ctx
        .api
        .store
        .update_instances(
            &ctx.scope,
            &ids,
            Box::new(move |i, _| {
                op(i, now, delay, force)?;
                dry_run(Some(is_dry))
            }),
        )
        .await?;
    let changes: Vec<StateChange> = results
        .iter()
        .map(|(before, after)| StateChange {
            instance_id: after.instance_id.clone(),
            previous: before.state,
            current: after.state,
        })
        .collect();
    Ok(json!({ member: state_changes(&changes) }))
}

pub async fn start_instances(ctx: &Ctx<'_>, req: InstanceIdsIn) -> Result<Value, Ec2Error> {
    transit(ctx, req, "StartingInstances", |i, now, d, _| {
        i.start(now, d)
    })
    .await
}

pub async fn stop_instances(ctx: &Ctx<'_>, req: InstanceIdsIn) -> Result<Value, Ec2Error> {
    transit(ctx, req, "StoppingInstances", |i, now, d, force| {
        i.stop(now, d, force)
    })
    .await
}

pub async fn terminate_instances(ctx: &Ctx<'_>, req: InstanceIdsIn) -> Result<Value, Ec2Error> {
    transit(ctx, req, "TerminatingInstances", |i, now, d, _| {
        i.terminate(now, d)
    })
    .await
}

pub async fn reboot_instances(ctx: &Ctx<'_>, req: InstanceIdsIn) -> Result<Value, Ec2Error> {
    let ids = instance_ids(&req.instance_ids, "InstanceId")?;
    let instances = ctx.api.store.instances(&ctx.scope, &ids).await?;
    for i in &instances {
        i.reboot()?;
    }
    dry_run(req.dry_run)?;
    Ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstanceStatusIn {
    instance_ids: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    include_all_instances: Option<bool>,
    dry_run: Option<bool>,
}

const STATUS_FILTERS: &[&str] = &[
    "availability-zone",
    "instance-state-name",
    "instance-state-code",
    "instance-status.status",
    "instance-status.reachability",
    "system-status.status",
    "system-status.reachability",
];

pub async fn describe_instance_status(
    ctx: &Ctx<'_>,
    req: DescribeInstanceStatusIn,
) -> Result<Value, Ec2Error> {
    let (ids, limit) = ids_or_pages(&req.instance_ids, req.max_results)?;
    // The token is an offset into the filtered statuses (the list is built in memory).
    page_after("status", &req.next_token)?;
    let filters = filters(req.filters)?;
    filter::validate(&filters, STATUS_FILTERS)?;
    dry_run(req.dry_run)?;
    let all = req.include_all_instances == Some(true);
    let instances = super::every_instance(ctx, ids).await?;
    let mut statuses = Vec::new();
    for i in &instances {
        if !all && i.state != InstanceState::Running {
            continue;
        }
        let status = match i.state {
            InstanceState::Running => "ok",
            _ => "not-applicable",
        };
        let reach = if status == "ok" {
            "passed"
        } else {
            "initializing"
        };
        let attrs: Vec<(String, String)> = vec![
            ("availability-zone".into(), i.availability_zone.clone()),
            ("instance-state-name".into(), i.state.as_str().into()),
            ("instance-state-code".into(), i.state.code().to_string()),
            ("instance-status.status".into(), status.into()),
            ("instance-status.reachability".into(), reach.into()),
            ("system-status.status".into(), status.into()),
            ("system-status.reachability".into(), reach.into()),
        ];
        if !filter::passes(&filters, &attrs) {
            continue;
        }
        let summary =
            |s: &str| json!({"Status": s, "Details": [{"Name": "reachability", "Status": reach}]});
        statuses.push(json!({
            "InstanceId": i.instance_id,
            "AvailabilityZone": i.availability_zone,
            "InstanceState": {"Code": i.state.code(), "Name": i.state.as_str()},
            "InstanceStatus": summary(status),
            "SystemStatus": summary(status),
            "AttachedEbsStatus": {"Status": status},
            "Events": [],
        }));
    }
    page_in_memory(
        "InstanceStatuses",
        "status",
        statuses,
        &req.next_token,
        limit,
    )
}

/// The instance a fresh data dir starts with: running, in the default account and region,
/// so that a new user has something to look at and `curl` gets answers at once.
pub async fn launch_first_instance(api: &crate::Api) -> Result<String, Ec2Error> {
    let scope = Scope::new(model::DEFAULT_ACCOUNT, model::DEFAULT_REGION);
    let caller = crate::auth::Caller::root(
        &scope.account,
        None,
        scope.region.clone(),
        crate::Service::Ec2,
    );
    let ctx = Ctx {
        api,
        caller: &caller,
        scope: scope.clone(),
    };
    let req = RunInstancesIn {
        image_id: Some(catalogue::AL2_IMAGE.into()),
        instance_type: Some("t3.micro".into()),
        min_count: 1,
        max_count: 1,
        tag_specifications: vec![TagSpecificationIn {
            resource_type: Some("instance".into()),
            tags: vec![super::TagIn {
                key: Some("Name".into()),
                value: Some("imds-default".into()),
            }],
        }],
        already_running: true,
        ..Default::default()
    };
    let r = run_instances(&ctx, req).await?;
    let id = r["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let _ = instance_id(&id)?;
    Ok(id)
}
