//! Launch planning: what RunInstances makes of a request once the handler has looked up what
//! it names (the launch template, the image, the instance type, the subnet, the profile).
//!
//! The handler does the I/O; everything decided here is pure: the counts, the enumerated
//! members, the instance type against the image, the prototype every launched instance is
//! cut from ([`prototype`]), the options decided inside the write from the account's
//! defaults ([`decide_options`]), and the instances themselves, given their addresses and ids
//! ([`instantiate`]).

use crate::catalogue::{InstanceType, Subnet};
use crate::cidr::Cidr;
use crate::image::{Image, ImdsSupport};
use crate::instance::{
    IamProfileRef, Instance, InstanceState, NetworkPlacement, StateReason, Transition,
};
use crate::options::{MetadataOptions, OptionsPatch};
use crate::profile_association::ProfileAssociation;
use crate::tags::Tag;
use crate::{precedence, AccountDefaults, Ec2Error};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// The most instances one RunInstances call launches here. UNCONFIRMED: EC2's own cap
/// depends on the account's quotas.
pub(crate) const MAX_PER_CALL: i64 = 1000;

/// `InstanceInitiatedShutdownBehavior`: what a shutdown from inside the instance does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ShutdownBehavior {
    #[default]
    Stop,
    Terminate,
}

impl ShutdownBehavior {
    pub fn parse(value: &str) -> Result<ShutdownBehavior, Ec2Error> {
        match value {
            "stop" => Ok(ShutdownBehavior::Stop),
            "terminate" => Ok(ShutdownBehavior::Terminate),
            other => Err(Ec2Error::invalid_enum(
                other,
                "InstanceInitiatedShutdownBehavior",
                &["stop", "terminate"],
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownBehavior::Stop => "stop",
            ShutdownBehavior::Terminate => "terminate",
        }
    }
}

/// `CpuCredits` of a burstable instance type, stored by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuCredits {
    Standard,
    Unlimited,
}

impl CpuCredits {
    pub fn parse(value: &str) -> Result<CpuCredits, Ec2Error> {
        match value {
            "standard" => Ok(CpuCredits::Standard),
            "unlimited" => Ok(CpuCredits::Unlimited),
            other => Err(Ec2Error::invalid_enum(
                other,
                "CpuCredits",
                &["standard", "unlimited"],
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CpuCredits::Standard => "standard",
            CpuCredits::Unlimited => "unlimited",
        }
    }

    /// What a launch without a credit specification gets (EC2 User Guide, "Burstable
    /// performance instances": T2 standard, later T types unlimited); `None` for a type that
    /// is not burstable.
    pub fn for_type(t: &InstanceType, asked: Option<CpuCredits>) -> Option<CpuCredits> {
        t.burstable
            .then(|| asked.unwrap_or_else(|| CpuCredits::default_for(t)))
    }

    /// The default of a burstable type: T2 `standard`, later T types `unlimited`.
    pub(crate) fn default_for(t: &InstanceType) -> CpuCredits {
        if t.name.starts_with("t2.") {
            CpuCredits::Standard
        } else {
            CpuCredits::Unlimited
        }
    }
}

/// `MinCount`/`MaxCount`: the number of instances to launch (imds launches `MaxCount`, as EC2
/// does when capacity allows).
pub fn count(min: i64, max: i64) -> Result<u32, Ec2Error> {
    let invalid = |param: &str, value: i64, expected: String| {
        Ec2Error::InvalidParameterValue(format!(
            "Value ({value}) for parameter {param} is invalid. {expected}"
        ))
    };
    if min < 1 {
        return Err(invalid(
            "minCount",
            min,
            "Expected a value greater than 0.".into(),
        ));
    }
    if max < 1 {
        return Err(invalid(
            "maxCount",
            max,
            "Expected a value greater than 0.".into(),
        ));
    }
    if min > max {
        return Err(invalid(
            "minCount",
            min,
            format!("Expected a value less than or equal to maxCount ({max})."),
        ));
    }
    if max > MAX_PER_CALL {
        return Err(invalid(
            "maxCount",
            max,
            format!("imds launches at most {MAX_PER_CALL} instances per call."),
        ));
    }
    Ok(max as u32)
}

/// `PrivateIpAddress`: an IPv4 address, and only for a launch of one instance.
pub fn private_ip(value: Option<&str>, count: u32) -> Result<Option<Ipv4Addr>, Ec2Error> {
    let Some(s) = value else {
        return Ok(None);
    };
    let ip = s.parse::<Ipv4Addr>().map_err(|_| {
        Ec2Error::InvalidParameterValue(format!(
            "Value ({s}) for parameter privateIpAddress is invalid. Invalid format."
        ))
    })?;
    if count > 1 {
        return Err(Ec2Error::InvalidParameterCombination(
            "Cannot specify a private IP address when launching more than one instance.".into(),
        ));
    }
    Ok(Some(ip))
}

/// The instance type must run the image's architecture.
pub fn check_architecture(itype: &InstanceType, image: &Image) -> Result<(), Ec2Error> {
    if itype.architecture != image.architecture {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The architecture '{}' of the specified instance type does not match the architecture '{}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.",
            itype.architecture, image.architecture
        )));
    }
    Ok(())
}

/// Everything a launch resolved from its request and its launch template (the request wins),
/// and the resources the handler looked up.
pub struct Spec<'a> {
    pub scope: crate::Scope,
    pub image: &'a Image,
    pub itype: &'a InstanceType,
    pub subnet: &'a Subnet,
    pub vpc_cidr: Cidr,
    pub key_name: Option<String>,
    pub security_groups: Vec<(String, String)>,
    pub profile: Option<IamProfileRef>,
    pub user_data: Option<String>,
    pub client_token: Option<String>,
    pub fingerprint: String,
    pub ebs_optimized: bool,
    pub disable_api_termination: bool,
    pub disable_api_stop: bool,
    pub monitoring: bool,
    pub shutdown_behavior: ShutdownBehavior,
    pub hibernation: bool,
    pub cpu_credits: Option<CpuCredits>,
    /// The Spot market (`SpotMarket::decide`), each instance's request id still to make.
    pub market: Option<crate::events::SpotMarket>,
    /// The launch template and version launched from.
    pub launch_template: Option<(String, String)>,
    pub tags: Vec<Tag>,
}

/// The instance every launched one is cut from: `pending`, due `running` after `delay_ms`,
/// its options not yet decided (see [`decide_options`]).
pub fn prototype(spec: Spec<'_>, reservation_id: String, now_ms: i64, delay_ms: i64) -> Instance {
    Instance {
        instance_id: String::new(),
        scope: spec.scope,
        reservation_id,
        image_id: spec.image.image_id.clone(),
        instance_type: spec.itype.name.to_string(),
        state: InstanceState::Pending,
        transition: Some(Transition {
            to: InstanceState::Running,
            due_ms: now_ms + delay_ms,
        }),
        state_transition_reason: String::new(),
        state_reason: Some(StateReason::pending()),
        launch_time_ms: now_ms - now_ms.rem_euclid(1000),
        private_ip: Ipv4Addr::UNSPECIFIED,
        subnet_id: spec.subnet.subnet_id.clone(),
        vpc_id: spec.subnet.vpc_id.clone(),
        availability_zone: spec.subnet.availability_zone.clone(),
        network: Some(NetworkPlacement {
            subnet_cidr: spec.subnet.cidr,
            vpc_cidr: spec.vpc_cidr,
            availability_zone_id: spec.subnet.availability_zone_id.clone(),
        }),
        network_interface_id: String::new(),
        mac_address: String::new(),
        root_volume_id: String::new(),
        ami_launch_index: 0,
        key_name: spec.key_name,
        security_groups: spec.security_groups,
        iam_instance_profile: spec.profile,
        profile_association: None,
        user_data: spec.user_data,
        client_token: spec.client_token,
        launch_fingerprint: Some(spec.fingerprint),
        ebs_optimized: spec.ebs_optimized,
        disable_api_termination: spec.disable_api_termination,
        disable_api_stop: spec.disable_api_stop,
        monitoring: spec.monitoring,
        shutdown_behavior: spec.shutdown_behavior,
        hibernation: spec.hibernation,
        cpu_credits: spec.cpu_credits,
        source_dest_check: true,
        launch_template: spec.launch_template,
        metadata: MetadataOptions::BUILT_IN,
        options_generation: 1,
        applied_generation: 0,
        applied_metadata: None,
        tags: spec.tags,
        terminated_at_ms: None,
        market: spec.market,
        events: Default::default(),
    }
}

/// The options of the launched instances, decided inside the write with the account's
/// defaults as they are then (spec ec2-api.md §5): the order of precedence, enforcement, and
/// the tag keys the metadata service could not serve.
pub fn decide_options(
    requested: &OptionsPatch,
    defaults: &AccountDefaults,
    ami_support: Option<ImdsSupport>,
    tags: &[Tag],
) -> Result<MetadataOptions, Ec2Error> {
    let options = precedence::resolve(requested, defaults, ami_support);
    precedence::check_enforcement(&options, defaults)?;
    if options.instance_metadata_tags.is_enabled() {
        if let Some(bad) = tags.iter().find(|t| !crate::tags::is_metadata_safe(&t.key)) {
            return Err(crate::tags::metadata_unsafe_error(&bad.key));
        }
    }
    Ok(options)
}

/// The ids one launched instance needs, made by the caller (the model has no randomness).
pub struct NewIds {
    pub instance: String,
    pub network_interface: String,
    pub root_volume: String,
    pub mac_address: String,
    pub association: String,
    /// The Spot request of a Spot instance (`events::spot::spot_request_id`).
    pub spot_request: String,
}

/// The instances of a launch: one per address, in order (`AmiLaunchIndex`), with `options`;
/// a launch with a profile makes an association of its own (listed by
/// DescribeIamInstanceProfileAssociations, as on EC2). `already_running` is the first
/// instance of a new store, which starts up with its options applied.
pub fn instantiate(
    proto: &Instance,
    addresses: &[Ipv4Addr],
    options: MetadataOptions,
    already_running: bool,
    now_ms: i64,
    mut ids: impl FnMut() -> NewIds,
) -> Vec<Instance> {
    addresses
        .iter()
        .enumerate()
        .map(|(n, ip)| {
            let new = ids();
            let mut i = proto.clone();
            i.instance_id = new.instance;
            i.network_interface_id = new.network_interface;
            i.root_volume_id = new.root_volume;
            i.mac_address = new.mac_address;
            if let Some(m) = i.market.as_mut() {
                m.request_id = new.spot_request;
            }
            i.private_ip = *ip;
            i.ami_launch_index = n as u32;
            i.metadata = options;
            i.profile_association = i
                .iam_instance_profile
                .clone()
                .map(|p| ProfileAssociation::at_launch(new.association, p, now_ms));
            if already_running {
                i.state = InstanceState::Running;
                i.transition = None;
                i.state_reason = None;
                i.applied_generation = i.options_generation;
                i.applied_metadata = Some(options);
            }
            i
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_as_ec2_words_them() {
        assert_eq!(count(1, 3), Ok(3));
        assert!(count(0, 1).unwrap_err().to_string().contains("minCount"));
        assert!(count(1, 0).unwrap_err().to_string().contains("maxCount"));
        assert!(count(3, 2)
            .unwrap_err()
            .to_string()
            .contains("less than or equal to maxCount (2)"));
        assert!(count(1, MAX_PER_CALL + 1).is_err());
    }

    #[test]
    fn a_private_address_only_for_one_instance() {
        assert_eq!(
            private_ip(Some("10.0.0.5"), 1),
            Ok(Some(Ipv4Addr::new(10, 0, 0, 5)))
        );
        assert!(matches!(
            private_ip(Some("10.0.0.5"), 2),
            Err(Ec2Error::InvalidParameterCombination(_))
        ));
        assert!(private_ip(Some("nope"), 1).is_err());
        assert_eq!(private_ip(None, 5), Ok(None));
    }

    #[test]
    fn enums_parse_and_keep_their_wire_names() {
        assert_eq!(
            ShutdownBehavior::parse("terminate"),
            Ok(ShutdownBehavior::Terminate)
        );
        assert!(ShutdownBehavior::parse("halt").is_err());
        assert_eq!(
            serde_json::to_string(&ShutdownBehavior::Stop)
                .ok()
                .as_deref(),
            Some("\"stop\""),
            "stored documents keep their text"
        );
        assert_eq!(CpuCredits::parse("unlimited"), Ok(CpuCredits::Unlimited));
        assert_eq!(
            serde_json::to_string(&CpuCredits::Unlimited)
                .ok()
                .as_deref(),
            Some("\"unlimited\""),
            "stored documents keep their text"
        );
        assert!(CpuCredits::parse("maybe").is_err());
    }

    #[test]
    fn credits_default_by_family_and_only_for_burstable_types() {
        let t2 = crate::catalogue::instance_type("t2.micro").unwrap();
        let t3 = crate::catalogue::instance_type("t3.micro").unwrap();
        let m5 = crate::catalogue::instance_type("c3.large").unwrap();
        assert_eq!(CpuCredits::for_type(t2, None), Some(CpuCredits::Standard));
        assert_eq!(CpuCredits::for_type(t3, None), Some(CpuCredits::Unlimited));
        assert_eq!(
            CpuCredits::for_type(t3, Some(CpuCredits::Standard)),
            Some(CpuCredits::Standard)
        );
        assert_eq!(CpuCredits::for_type(m5, Some(CpuCredits::Unlimited)), None);
    }

    #[test]
    fn instances_are_cut_from_the_prototype_in_address_order() {
        let proto = crate::testing::instance("t3.micro");
        let addrs = [Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 0, 0, 5)];
        let mut n = 0;
        let out = instantiate(&proto, &addrs, MetadataOptions::BUILT_IN, false, 0, || {
            n += 1;
            NewIds {
                instance: format!("i-{n}"),
                network_interface: format!("eni-{n}"),
                root_volume: format!("vol-{n}"),
                mac_address: format!("02:00:00:00:00:0{n}"),
                association: format!("iip-assoc-{n}"),
                spot_request: format!("sir-0000000{n}"),
            }
        });
        assert_eq!(out.len(), 2);
        assert_eq!(
            (
                out[1].instance_id.as_str(),
                out[1].private_ip,
                out[1].ami_launch_index
            ),
            ("i-2", addrs[1], 1)
        );
        assert_eq!(out[0].state, proto.state, "not running unless asked");
    }
}
