//! RunInstances: the request, resolved against its launch template and the resources it
//! names, then planned by the model (`model::launch`) and decided inside the store's write;
//! and the first instance of a new store.

use super::{dry_run, instance_id, now_ms, random, tags_for, TagSpecificationIn};
use crate::context::Ctx;
use crate::protocol::output::Output;
use crate::render;
use base64::Engine;
use model::catalogue;
use model::events::{InterruptionBehavior, SpotMarket};
use model::ids;
use model::instance::IamProfileRef;
use model::options::OptionsPatch;
use model::profile_association::ASSOCIATION;
use model::{Ec2Error, Instance, Scope};
use serde::Deserialize;
use store::LaunchRequest;

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
pub(crate) struct LaunchTemplateSpecIn {
    pub(crate) launch_template_id: Option<String>,
    pub(crate) launch_template_name: Option<String>,
    pub(crate) version: Option<String>,
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
pub(crate) struct ConfiguredIn {
    pub(crate) configured: Option<bool>,
}

/// `InstanceMarketOptions` (RunInstances' `InstanceMarketOptionsRequest`, and a launch
/// template's, which has the same members).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct InstanceMarketOptionsIn {
    market_type: Option<String>,
    spot_options: Option<SpotOptionsIn>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SpotOptionsIn {
    max_price: Option<String>,
    spot_instance_type: Option<String>,
    /// Deprecated by EC2 (Spot blocks); accepted and not kept.
    #[allow(dead_code)]
    block_duration_minutes: Option<i64>,
    valid_until: Option<String>,
    instance_interruption_behavior: Option<String>,
}

impl InstanceMarketOptionsIn {
    /// As the model's request, its timestamp read.
    pub(crate) fn request(&self) -> Result<model::events::MarketRequest, Ec2Error> {
        let spot = self.spot_options.clone().unwrap_or_default();
        let valid_until_ms = spot
            .valid_until
            .as_deref()
            .map(|v| {
                parse_timestamp(v).ok_or_else(|| {
                    Ec2Error::InvalidParameterValue(format!(
                        "Value ({v}) for parameter validUntil is invalid."
                    ))
                })
            })
            .transpose()?;
        Ok(model::events::MarketRequest {
            market_type: self.market_type.clone(),
            max_price: spot.max_price,
            spot_instance_type: spot.spot_instance_type,
            interruption_behavior: spot.instance_interruption_behavior,
            valid_until_ms,
        })
    }
}

/// An ISO 8601 timestamp as the Query protocol sends one (botocore: `2019-03-14T20:00:00Z`,
/// with or without a fraction), in milliseconds.
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreditSpecificationIn {
    cpu_credits: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunInstancesIn {
    pub(crate) image_id: Option<String>,
    pub(crate) instance_type: Option<String>,
    min_count: i64,
    max_count: i64,
    pub(crate) key_name: Option<String>,
    #[serde(default)]
    pub(crate) security_group_ids: Vec<String>,
    #[serde(default)]
    security_groups: Vec<String>,
    pub(crate) subnet_id: Option<String>,
    private_ip_address: Option<String>,
    user_data: Option<String>,
    client_token: Option<String>,
    pub(crate) metadata_options: Option<MetadataOptionsIn>,
    #[serde(default)]
    pub(crate) tag_specifications: Vec<TagSpecificationIn>,
    pub(crate) iam_instance_profile: Option<IamInstanceProfileIn>,
    pub(crate) launch_template: Option<LaunchTemplateSpecIn>,
    placement: Option<PlacementIn>,
    monitoring: Option<EnabledIn>,
    disable_api_termination: Option<bool>,
    disable_api_stop: Option<bool>,
    ebs_optimized: Option<bool>,
    instance_initiated_shutdown_behavior: Option<String>,
    hibernation_options: Option<ConfiguredIn>,
    pub(crate) instance_market_options: Option<InstanceMarketOptionsIn>,
    credit_specification: Option<CreditSpecificationIn>,
    dry_run: Option<bool>,
    /// Not a request member: the first instance of a new data dir starts out running.
    #[serde(skip)]
    already_running: bool,
}

/// The RunInstances input as authorization sees it: the metadata options (and instance type)
/// a referenced launch template supplies count as launch configuration where the request
/// leaves them out (spec iam.md §2). A template that cannot be read is left to the handler,
/// which reports it.
pub(crate) async fn run_instances_for_authorization(
    ctx: &Ctx<'_>,
    req: &RunInstancesIn,
) -> RunInstancesIn {
    let mut out = req.clone();
    let Some(spec) = &req.launch_template else {
        return out;
    };
    let Ok(t) = super::templates::for_launch(
        ctx,
        spec.launch_template_id.as_deref(),
        spec.launch_template_name.as_deref(),
        spec.version.as_deref(),
    )
    .await
    else {
        return out;
    };
    let m = t.metadata;
    let options = out.metadata_options.get_or_insert_with(Default::default);
    let or = |v: &mut Option<String>, t: Option<&str>| {
        if v.is_none() {
            *v = t.map(str::to_string);
        }
    };
    or(&mut options.http_tokens, m.http_tokens.map(|v| v.as_str()));
    if options.http_put_response_hop_limit.is_none() {
        options.http_put_response_hop_limit = m.hop_limit.map(|h| i64::from(h.get()));
    }
    or(
        &mut options.http_endpoint,
        m.http_endpoint.map(|v| v.as_str()),
    );
    or(
        &mut options.http_protocol_ipv6,
        m.http_protocol_ipv6.map(|v| v.as_str()),
    );
    or(
        &mut options.instance_metadata_tags,
        m.instance_metadata_tags.map(|v| v.as_str()),
    );
    or(&mut out.instance_type, t.instance_type.as_deref());
    // The template's instance tags are applied by this launch too, so they are part of its
    // tag-on-create authorization (EC2 User Guide, "Grant permission to tag Amazon EC2
    // resources during creation": "also evaluated if tags are provided in a launch
    // template"). The template's come first: the request's own values win, as at launch.
    if !t.instance_tags.is_empty() {
        let spec = TagSpecificationIn {
            resource_type: Some("instance".into()),
            tags: t
                .instance_tags
                .iter()
                .map(|tag| super::TagIn {
                    key: Some(tag.key.clone()),
                    value: Some(tag.value.clone()),
                })
                .collect(),
        };
        out.tag_specifications.insert(0, spec);
    }
    out
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
    pub(crate) market: Option<InstanceMarketOptionsIn>,
    pub hibernation: Option<bool>,
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
            model::Arn::instance_profile(account, "/", name).to_string()
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

/// RunInstances: the reservation launched, its instances rendered one at a time as the
/// answer is encoded.
pub async fn run_instances(ctx: &Ctx<'_>, req: RunInstancesIn) -> Result<Output, Ec2Error> {
    let instances = launch(ctx, req).await?;
    if instances.is_empty() {
        return Err(Ec2Error::InternalError);
    }
    Ok(render::reservation(instances))
}

/// The instances a RunInstances launches (or launched, replayed by its client token).
async fn launch(ctx: &Ctx<'_>, req: RunInstancesIn) -> Result<Vec<Instance>, Ec2Error> {
    use model::launch::{self, CpuCredits, ShutdownBehavior};
    let launch_fingerprint = fingerprint(&req);
    // --- syntax ---
    let count = launch::count(req.min_count, req.max_count)?;
    let request_options = match &req.metadata_options {
        Some(m) => m.patch(|p| p.to_string())?,
        None => OptionsPatch::default(),
    };
    let shutdown_behavior = req
        .instance_initiated_shutdown_behavior
        .as_deref()
        .map(ShutdownBehavior::parse)
        .transpose()?;
    let cpu_credits = req
        .credit_specification
        .as_ref()
        .and_then(|c| c.cpu_credits.as_deref())
        .filter(|c| !c.is_empty())
        .map(CpuCredits::parse)
        .transpose()?;
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
    let private_ip = launch::private_ip(req.private_ip_address.as_deref(), count)?;
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
    // UNCONFIRMED: a template's shutdown behaviour is checked when launched from, as the
    // request's is.
    let shutdown_behavior = match shutdown_behavior {
        Some(b) => b,
        None => tpl
            .shutdown_behavior
            .as_deref()
            .map(ShutdownBehavior::parse)
            .transpose()?
            .unwrap_or_default(),
    };

    // The market: the request's options, else the template's (whole, as one member).
    let hibernation = req
        .hibernation_options
        .as_ref()
        .and_then(|h| h.configured)
        .or(tpl.hibernation)
        .unwrap_or(false);
    let market = match req.instance_market_options.as_ref().or(tpl.market.as_ref()) {
        Some(m) => SpotMarket::decide(&m.request()?, hibernation)?,
        None => None,
    };

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
    launch::check_architecture(itype, &image)?;
    if let Some(ipv6) = launch_options.http_protocol_ipv6 {
        itype.hypervisor.allows(ipv6)?;
    }
    let vpc = catalogue::default_vpc(&ctx.scope.region);
    // Terraform sends `Placement.AvailabilityZone=` (empty) when none is chosen: EC2 reads
    // an empty value as "not set". A subnet of one's own VPC is found in the store; without
    // a subnet, the launch goes to a default subnet (of the zone asked for).
    let zone = req
        .placement
        .as_ref()
        .and_then(|p| p.availability_zone.as_ref())
        .filter(|s| !s.is_empty());
    let subnet = match (req.subnet_id.as_ref().filter(|s| !s.is_empty()), zone) {
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
    if let Some(az) = zone {
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
    let default_group = super::vpcs::default_security_group(&subnet.vpc_id);
    let security_groups: Vec<(String, String)> =
        if req.security_group_ids.is_empty() && tpl.security_group_ids.is_empty() {
            vec![(default_group, "default".to_string())]
        } else {
            req.security_group_ids
                .iter()
                .chain(tpl.security_group_ids.iter())
                .map(|g| {
                    let name = if *g == default_group { "default" } else { g };
                    (g.clone(), name.to_string())
                })
                .collect()
        };

    // --- the launch, decided inside the write transaction ---
    let now = now_ms();
    let is_dry = req.dry_run == Some(true);
    let managed = ctx.api.principals.managed(&ctx.scope.account).cloned();
    let spec = launch::Spec {
        scope: ctx.scope.clone(),
        image: &image,
        itype,
        subnet: &subnet,
        vpc_cidr: super::vpcs::vpc_cidr_of(ctx, &subnet.vpc_id).await?,
        key_name: req.key_name.clone().or(tpl.key_name.clone()),
        security_groups,
        profile,
        // An empty value is no user data: Terraform writes `LaunchTemplateData.UserData=`
        // into every template, and an instance launched from one has none.
        user_data: req
            .user_data
            .clone()
            .or(tpl.user_data.clone())
            .filter(|u| !u.trim().is_empty()),
        client_token: req.client_token.clone().filter(|t| !t.is_empty()),
        fingerprint: launch_fingerprint.clone(),
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
        shutdown_behavior,
        hibernation,
        cpu_credits: CpuCredits::for_type(itype, cpu_credits),
        market,
        launch_template: tpl.template.clone(),
        tags,
    };
    let delay = ctx.api.config.transition_delay.as_millis() as i64;
    let proto = launch::prototype(spec, ids::new_id(ids::RESERVATION, random()), now, delay);
    let ami_support = image.imds_support;
    let already_running = req.already_running;
    let outcome = ctx
        .api
        .store
        .launch(
            &ctx.scope,
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
                // An organization's declarative policy stands in for the account's defaults.
                let options = launch::decide_options(
                    &launch_options,
                    managed.as_ref().unwrap_or(&lc.defaults),
                    ami_support,
                    &proto.tags,
                )?;
                dry_run(Some(is_dry))?;
                Ok(launch::instantiate(
                    &proto,
                    &lc.addresses,
                    options,
                    already_running,
                    now,
                    new_ids,
                ))
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
    Ok(outcome.instances)
}

/// The sequence of this process's instance ids: a random start (so that processes started
/// in the same second, or API nodes sharing a store, are unlikely to make the same ids), then one
/// more per id.
fn instance_sequence() -> u64 {
    static NEXT: std::sync::OnceLock<std::sync::atomic::AtomicU64> = std::sync::OnceLock::new();
    NEXT.get_or_init(|| std::sync::atomic::AtomicU64::new(random()))
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Fresh ids for one launched instance; the instance's id ordered by time
/// ([`ids::time_ordered_id`]: a launch's ids go to the end of the store's id indexes, not to a
/// page each; 4,800 instances a second instead of 3,900 at 200,000).
fn new_ids() -> model::launch::NewIds {
    let r = random().to_be_bytes();
    model::launch::NewIds {
        instance: ids::time_ordered_id(ids::INSTANCE, now_ms(), instance_sequence()),
        network_interface: ids::new_id(ids::NETWORK_INTERFACE, random()),
        root_volume: ids::new_id(ids::VOLUME, random()),
        mac_address: format!(
            "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            r[0], r[1], r[2], r[3], r[4]
        ),
        association: ids::new_id(ASSOCIATION, random()),
        spot_request: model::events::spot::spot_request_id(random()),
    }
}

/// The instance a fresh data dir starts with: running, in the default account and region,
/// so that a new user has something to look at and `curl` gets answers at once.
/// How the first instance is launched: `imds serve`'s plain one (the default), or as
/// `imds aemm` arranges it from AEMM's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstLaunch {
    /// `HttpTokens=required` (AEMM's `--imdsv2`).
    pub tokens_required: bool,
    /// A Spot instance with this `InstanceInterruptionBehavior` (`terminate`, `stop` or
    /// `hibernate`); a persistent request for `stop` and `hibernate`, which EC2 allows only
    /// on one (user guide, "Specify the interruption behavior").
    pub spot: Option<InterruptionBehavior>,
}

pub async fn launch_first_instance(
    api: &crate::Api,
    first: &FirstLaunch,
) -> Result<String, Ec2Error> {
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
        authorize_in_write: None,
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
        metadata_options: first.tokens_required.then(|| MetadataOptionsIn {
            http_tokens: Some("required".into()),
            ..Default::default()
        }),
        instance_market_options: first.spot.map(|behavior| InstanceMarketOptionsIn {
            market_type: Some("spot".into()),
            spot_options: Some(SpotOptionsIn {
                spot_instance_type: Some(
                    match behavior {
                        InterruptionBehavior::Terminate => "one-time",
                        _ => "persistent",
                    }
                    .into(),
                ),
                instance_interruption_behavior: Some(behavior.as_str().into()),
                ..Default::default()
            }),
        }),
        already_running: true,
        ..Default::default()
    };
    let launched = launch(&ctx, req).await?;
    let id = launched
        .first()
        .map(|i| i.instance_id.clone())
        .unwrap_or_default();
    let _ = instance_id(&id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    /// The instance ids of a launch go up one after another (they land together at the end
    /// of the store's id indexes), and are all distinct.
    #[test]
    fn instance_ids_made_together_go_up() {
        let made: Vec<String> = (0..1000).map(|_| super::new_ids().instance).collect();
        assert!(made.windows(2).all(|w| w[0] < w[1]), "{:?}", &made[..3]);
    }
}
