//! Instances: their lifecycle (`pending` → `running`, `stopping` → `stopped`,
//! `shutting-down` → `terminated`) and the desired/applied generations of their metadata
//! options.
//!
//! A change of options is recorded as the desired options with a new generation; the options
//! read `pending` until the metadata host that serves the instance has switched to that
//! generation and said so (`mark_applied`). A stopped instance stays `pending` until it starts.

use crate::catalogue::{self, Hypervisor};
use crate::defaults::AccountDefaults;
use crate::error::Ec2Error;
use crate::options::{
    HttpTokens, InstanceMetadataTags, MetadataOptions, OptionsPatch, OptionsState,
};
use crate::precedence;
use crate::tags::{self, Tag};
use crate::Scope;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
}

impl InstanceState {
    /// The state code EC2 reports (low byte).
    pub fn code(self) -> i64 {
        match self {
            InstanceState::Pending => 0,
            InstanceState::Running => 16,
            InstanceState::ShuttingDown => 32,
            InstanceState::Terminated => 48,
            InstanceState::Stopping => 64,
            InstanceState::Stopped => 80,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
        }
    }
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            InstanceState::ShuttingDown | InstanceState::Terminated
        )
    }
}

/// A state the instance will reach by itself at `due_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub to: InstanceState,
    pub due_ms: i64,
}

/// Why an instance is in its state (`stateReason`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReason {
    pub code: String,
    pub message: String,
}

impl StateReason {
    fn user_initiated(code: &str) -> Self {
        StateReason {
            code: code.into(),
            message: format!("{code}: User initiated shutdown"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamProfileRef {
    pub arn: String,
    pub id: String,
    /// The profile's role when the launch resolved it through IAM; otherwise the role is
    /// named like the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// The blocks of an instance's subnet and VPC and its zone's id, as at launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPlacement {
    pub subnet_cidr: crate::cidr::Cidr,
    pub vpc_cidr: crate::cidr::Cidr,
    pub availability_zone_id: String,
}

/// One instance, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub instance_id: String,
    pub scope: Scope,
    pub reservation_id: String,
    pub image_id: String,
    pub instance_type: String,
    pub state: InstanceState,
    pub transition: Option<Transition>,
    #[serde(default)]
    pub state_transition_reason: String,
    pub state_reason: Option<StateReason>,
    pub launch_time_ms: i64,
    pub private_ip: Ipv4Addr,
    pub subnet_id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    /// The network the instance was launched into, as the metadata service shows it (a
    /// subnet of one's own is not in the catalogue). Absent in instances stored before it
    /// was kept: the Region's default subnets then answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkPlacement>,
    pub network_interface_id: String,
    pub mac_address: String,
    pub root_volume_id: String,
    pub ami_launch_index: u32,
    pub key_name: Option<String>,
    pub security_groups: Vec<(String, String)>,
    /// The profile the instance has (DescribeInstances): that of its live association.
    pub iam_instance_profile: Option<IamProfileRef>,
    /// The instance's IAM instance profile association (see `profile_association`); `None`
    /// for an instance launched without a profile and never associated, or stored before
    /// associations existed.
    #[serde(default)]
    pub profile_association: Option<crate::profile_association::ProfileAssociation>,
    pub user_data: Option<String>,
    pub client_token: Option<String>,
    /// What the launch asked for, to tell a retry from a different request under the same
    /// client token (`IdempotentParameterMismatch`).
    #[serde(default)]
    pub launch_fingerprint: Option<String>,
    pub ebs_optimized: bool,
    pub disable_api_termination: bool,
    pub disable_api_stop: bool,
    pub monitoring: bool,
    pub shutdown_behavior: crate::launch::ShutdownBehavior,
    pub hibernation: bool,
    pub cpu_credits: Option<String>,
    /// `sourceDestCheck` (ModifyInstanceAttribute); EC2 launches with it on.
    #[serde(default = "yes")]
    pub source_dest_check: bool,
    pub launch_template: Option<(String, String)>,
    pub metadata: MetadataOptions,
    /// Generation of the desired options; bumped by every accepted change.
    pub options_generation: u64,
    /// The generation the serving metadata host has switched to.
    pub applied_generation: u64,
    /// The options the serving metadata host enforces (those of `applied_generation`); `None`
    /// until a host first serves the instance. While a change is pending, these stay in force.
    #[serde(default)]
    pub applied_metadata: Option<MetadataOptions>,
    pub tags: Vec<Tag>,
    pub terminated_at_ms: Option<i64>,
}

/// The instance attribute (`instance_attrs`) holding its association's id.
pub const ASSOCIATION_ATTRIBUTE: &str = "iam-instance-profile-association-id";

fn yes() -> bool {
    true
}

/// One change of ModifyInstanceAttribute (EC2 takes one attribute per call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeChange {
    DisableApiTermination(bool),
    DisableApiStop(bool),
    ShutdownBehavior(crate::launch::ShutdownBehavior),
    SourceDestCheck(bool),
    /// Security groups by id (name as EC2 reports it).
    Groups(Vec<(String, String)>),
    /// The following need a stopped instance.
    UserData(Option<String>),
    InstanceType(String),
    EbsOptimized(bool),
}

/// What Start/Stop/Terminate report for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub instance_id: String,
    pub previous: InstanceState,
    pub current: InstanceState,
}

impl Instance {
    pub fn options_state(&self) -> OptionsState {
        if self.applied_generation >= self.options_generation {
            OptionsState::Applied
        } else {
            OptionsState::Pending
        }
    }

    pub fn hypervisor(&self) -> Hypervisor {
        catalogue::instance_type(&self.instance_type)
            .map(|t| t.hypervisor)
            .unwrap_or(Hypervisor::Nitro)
    }

    /// Whether the metadata host may switch this instance to its desired options now.
    pub fn can_apply(&self) -> bool {
        self.state == InstanceState::Running
    }

    /// The serving metadata host has switched to `generation`, which must be the latest: an
    /// older one is ignored (the host will get to the newer one).
    pub fn mark_applied(&mut self, generation: u64) -> bool {
        if self.can_apply()
            && generation > self.applied_generation
            && generation == self.options_generation
        {
            self.applied_generation = generation;
            self.applied_metadata = Some(self.metadata);
            true
        } else {
            false
        }
    }

    /// The options the metadata service enforces now.
    pub fn options_in_force(&self) -> MetadataOptions {
        self.applied_metadata.unwrap_or(self.metadata)
    }

    fn not_in_state(&self, what: &str) -> Ec2Error {
        Ec2Error::IncorrectInstanceState(format!(
            "The instance '{}' is not in a state from which it can be {what}.",
            self.instance_id
        ))
    }

    /// ModifyInstanceMetadataOptions, as far as the instance decides it.
    pub fn modify_metadata(
        &mut self,
        patch: &OptionsPatch,
        defaults: &AccountDefaults,
    ) -> Result<(), Ec2Error> {
        if self.state.is_gone() {
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is not in a valid state for this operation.",
                self.instance_id
            )));
        }
        if patch.http_tokens == Some(HttpTokens::Optional) {
            precedence::check_enforcement(&self.metadata.apply(patch), defaults)?;
        }
        if let Some(ipv6) = patch.http_protocol_ipv6 {
            self.hypervisor().allows(ipv6)?;
        }
        if patch.instance_metadata_tags == Some(InstanceMetadataTags::Enabled) {
            if let Some(bad) = self.tags.iter().find(|t| !tags::is_metadata_safe(&t.key)) {
                return Err(tags::metadata_unsafe_error(&bad.key));
            }
        }
        if !patch.is_empty() {
            self.metadata = self.metadata.apply(patch);
            self.options_generation += 1;
        }
        Ok(())
    }

    /// CreateTags on this instance.
    pub fn set_tags(&mut self, new: &[Tag]) -> Result<(), Ec2Error> {
        if self.metadata.instance_metadata_tags.is_enabled() {
            if let Some(bad) = new.iter().find(|t| !tags::is_metadata_safe(&t.key)) {
                return Err(tags::metadata_unsafe_error(&bad.key));
            }
        }
        tags::upsert(&mut self.tags, new)
    }

    pub fn start(&mut self, now_ms: i64, delay_ms: i64) -> Result<StateChange, Ec2Error> {
        let previous = self.state;
        match self.state {
            InstanceState::Stopped => {
                self.state = InstanceState::Pending;
                // EC2 reports the time of the last start as the launch time.
                self.launch_time_ms = now_ms - now_ms.rem_euclid(1000);
                self.transition = Some(Transition {
                    to: InstanceState::Running,
                    due_ms: now_ms + delay_ms,
                });
                self.state_reason = None;
                self.state_transition_reason = String::new();
            }
            InstanceState::Pending | InstanceState::Running => {}
            _ => return Err(self.not_in_state("started")),
        }
        Ok(self.change(previous))
    }

    pub fn stop(
        &mut self,
        now_ms: i64,
        delay_ms: i64,
        force: bool,
    ) -> Result<StateChange, Ec2Error> {
        let previous = self.state;
        match self.state {
            InstanceState::Pending | InstanceState::Running => {
                if self.disable_api_stop {
                    return Err(Ec2Error::OperationNotPermitted(format!(
                        "The instance '{}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.",
                        self.instance_id
                    )));
                }
                self.state = InstanceState::Stopping;
                self.transition = Some(Transition {
                    to: InstanceState::Stopped,
                    due_ms: now_ms + delay_ms,
                });
                self.state_reason =
                    Some(StateReason::user_initiated("Client.UserInitiatedShutdown"));
                self.state_transition_reason =
                    format!("User initiated ({})", fmt_reason_time(now_ms));
            }
            InstanceState::Stopping if force => {
                self.transition = Some(Transition {
                    to: InstanceState::Stopped,
                    due_ms: now_ms,
                });
            }
            InstanceState::Stopping | InstanceState::Stopped => {}
            _ => return Err(self.not_in_state("stopped")),
        }
        Ok(self.change(previous))
    }

    pub fn terminate(&mut self, now_ms: i64, delay_ms: i64) -> Result<StateChange, Ec2Error> {
        let previous = self.state;
        if self.disable_api_termination && !self.state.is_gone() {
            return Err(Ec2Error::OperationNotPermitted(format!(
                "The instance '{}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.",
                self.instance_id
            )));
        }
        if !self.state.is_gone() {
            self.state = InstanceState::ShuttingDown;
            self.transition = Some(Transition {
                to: InstanceState::Terminated,
                due_ms: now_ms + delay_ms,
            });
            self.state_reason = Some(StateReason::user_initiated("Client.UserInitiatedShutdown"));
            self.state_transition_reason = format!("User initiated ({})", fmt_reason_time(now_ms));
        }
        Ok(self.change(previous))
    }

    /// ModifyInstanceAttribute. User data, instance type and EBS optimization change only on
    /// a stopped instance ("ModifyInstanceAttribute", EC2 API reference); nothing changes on
    /// one that is shutting down or terminated.
    pub fn modify_attribute(&mut self, change: &AttributeChange) -> Result<(), Ec2Error> {
        if self.state.is_gone() {
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is not in a valid state for this operation.",
                self.instance_id
            )));
        }
        let needs_stopped = matches!(
            change,
            AttributeChange::UserData(_)
                | AttributeChange::InstanceType(_)
                | AttributeChange::EbsOptimized(_)
        );
        if needs_stopped && self.state != InstanceState::Stopped {
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is not in the 'stopped' state.",
                self.instance_id
            )));
        }
        match change {
            AttributeChange::DisableApiTermination(v) => self.disable_api_termination = *v,
            AttributeChange::DisableApiStop(v) => self.disable_api_stop = *v,
            AttributeChange::ShutdownBehavior(v) => self.shutdown_behavior = *v,
            AttributeChange::SourceDestCheck(v) => self.source_dest_check = *v,
            AttributeChange::Groups(g) => self.security_groups = g.clone(),
            AttributeChange::UserData(v) => self.user_data = v.clone(),
            AttributeChange::EbsOptimized(v) => self.ebs_optimized = *v,
            AttributeChange::InstanceType(name) => {
                let t = catalogue::instance_type(name).ok_or_else(|| {
                    Ec2Error::InvalidInstanceAttributeValue(format!(
                        "Value ({name}) for parameter instanceType is invalid. Invalid instance type."
                    ))
                })?;
                if t.architecture != self.architecture() {
                    return Err(Ec2Error::InvalidInstanceAttributeValue(format!(
                        "The instance type '{name}' does not support the architecture '{}' of the instance's AMI.",
                        self.architecture()
                    )));
                }
                t.hypervisor.allows(self.metadata.http_protocol_ipv6)?;
                self.cpu_credits = match (&self.cpu_credits, t.burstable) {
                    (_, false) => None,
                    (Some(c), true) => Some(c.clone()),
                    (None, true) => Some(catalogue::default_cpu_credits(t).to_string()),
                };
                self.instance_type = t.name.to_string();
            }
        }
        Ok(())
    }

    /// ModifyInstanceCreditSpecification for this instance: burstable types only, not once
    /// shutting down or terminated. The error is the item's `(code, message)` (the action
    /// reports failures per instance).
    pub fn set_cpu_credits(&mut self, credits: &str) -> Result<(), (&'static str, String)> {
        if self.state.is_gone() {
            return Err((
                "IncorrectInstanceState",
                format!(
                    "The instance '{}' is not in a state from which its credit option can be modified.",
                    self.instance_id
                ),
            ));
        }
        if self.cpu_credits.is_none() {
            return Err((
                "InstanceCreditSpecification.NotSupported",
                format!(
                    "The instance type {} of instance '{}' does not support CPU credits.",
                    self.instance_type, self.instance_id
                ),
            ));
        }
        self.cpu_credits = Some(credits.to_string());
        Ok(())
    }

    pub fn reboot(&self) -> Result<(), Ec2Error> {
        if self.state.is_gone() {
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is not in a state from which it can be rebooted.",
                self.instance_id
            )));
        }
        Ok(())
    }

    /// Take the transition that is due by `now_ms`, if any. Returns whether the state changed.
    pub fn advance(&mut self, now_ms: i64) -> bool {
        match self.transition {
            Some(t) if t.due_ms <= now_ms => {
                self.state = t.to;
                self.transition = None;
                if t.to == InstanceState::Running {
                    self.state_reason = None;
                }
                if t.to == InstanceState::Terminated {
                    self.terminated_at_ms = Some(now_ms);
                }
                true
            }
            _ => false,
        }
    }

    fn change(&self, previous: InstanceState) -> StateChange {
        StateChange {
            instance_id: self.instance_id.clone(),
            previous,
            current: self.state,
        }
    }

    /// The values of a DescribeInstances filter attribute for this instance (see
    /// `filter::INSTANCE_FILTERS`). Tags are `tag:KEY` = value and `tag-key` = key.
    pub fn filter_attributes(&self) -> Vec<(String, String)> {
        let m = &self.metadata;
        let mut out: Vec<(String, String)> = [
            ("instance-id", self.instance_id.clone()),
            ("instance-state-name", self.state.as_str().to_string()),
            ("instance-state-code", self.state.code().to_string()),
            ("instance-type", self.instance_type.clone()),
            ("image-id", self.image_id.clone()),
            ("availability-zone", self.availability_zone.clone()),
            ("subnet-id", self.subnet_id.clone()),
            ("vpc-id", self.vpc_id.clone()),
            ("private-ip-address", self.private_ip.to_string()),
            ("reservation-id", self.reservation_id.clone()),
            ("owner-id", self.scope.account.clone()),
            ("architecture", self.architecture().to_string()),
            (
                "metadata-options.http-tokens",
                m.http_tokens.as_str().to_string(),
            ),
            (
                "metadata-options.http-put-response-hop-limit",
                m.hop_limit.get().to_string(),
            ),
            (
                "metadata-options.http-endpoint",
                m.http_endpoint.as_str().to_string(),
            ),
            // IPv4 endpoint is on whenever the endpoint is (there is no separate option).
            (
                "metadata-options.http-protocol-ipv4",
                m.http_endpoint.as_str().to_string(),
            ),
            (
                "metadata-options.http-protocol-ipv6",
                m.http_protocol_ipv6.as_str().to_string(),
            ),
            (
                "metadata-options.instance-metadata-tags",
                m.instance_metadata_tags.as_str().to_string(),
            ),
            (
                "metadata-options.state",
                self.options_state().as_str().to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(k) = &self.key_name {
            out.push(("key-name".into(), k.clone()));
        }
        if let Some(p) = &self.iam_instance_profile {
            out.push(("iam-instance-profile.arn".into(), p.arn.clone()));
        }
        if let Some(a) = &self.profile_association {
            // Not a DescribeInstances filter: how Replace and Disassociate find the instance
            // of an association id (an indexed lookup).
            out.push((ASSOCIATION_ATTRIBUTE.into(), a.association_id.clone()));
        }
        if let Some(c) = &self.client_token {
            out.push(("client-token".into(), c.clone()));
        }
        for t in &self.tags {
            out.push((format!("tag:{}", t.key), t.value.clone()));
            out.push(("tag-key".into(), t.key.clone()));
            out.push(("tag-value".into(), t.value.clone()));
        }
        out
    }

    pub fn architecture(&self) -> &'static str {
        catalogue::instance_type(&self.instance_type)
            .map(|t| t.architecture)
            .unwrap_or("x86_64")
    }
}

/// `ip-172-31-0-4.ec2.internal` in us-east-1, `ip-….REGION.compute.internal` elsewhere: the
/// private DNS name DescribeInstances reports and the metadata service's `hostname`.
pub fn private_dns_name(ip: Ipv4Addr, region: &str) -> String {
    let ip = ip.to_string().replace('.', "-");
    if region == "us-east-1" {
        format!("ip-{ip}.ec2.internal")
    } else {
        format!("ip-{ip}.{region}.compute.internal")
    }
}

use crate::time::fmt_reason_time;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::defaults::HttpTokensEnforced;
    use crate::options::{HopLimit, HttpEndpoint, HttpProtocolIpv6};

    pub fn sample(instance_type: &str) -> Instance {
        crate::testing::instance(instance_type)
    }

    #[test]
    fn modify_goes_pending_until_applied() {
        let mut i = sample("m5.large");
        assert_eq!(i.options_state(), OptionsState::Applied);
        let patch = OptionsPatch {
            http_tokens: Some(HttpTokens::Required),
            ..Default::default()
        };
        i.modify_metadata(&patch, &AccountDefaults::default())
            .unwrap();
        assert_eq!(i.options_state(), OptionsState::Pending);
        assert_eq!(i.metadata.hop_limit, HopLimit::ONE);
        assert!(i.mark_applied(2));
        assert_eq!(i.options_state(), OptionsState::Applied);
        assert!(!i.mark_applied(2), "applying twice is a no-op");
    }

    #[test]
    fn stopped_instance_stays_pending_until_started() {
        let mut i = sample("m5.large");
        i.stop(0, 10, false).unwrap();
        assert!(i.advance(10));
        assert_eq!(i.state, InstanceState::Stopped);
        let patch = OptionsPatch {
            http_endpoint: Some(HttpEndpoint::Disabled),
            ..Default::default()
        };
        i.modify_metadata(&patch, &AccountDefaults::default())
            .unwrap();
        assert!(!i.mark_applied(2));
        assert_eq!(i.options_state(), OptionsState::Pending);
        i.start(20, 10).unwrap();
        assert_eq!(i.state, InstanceState::Pending);
        assert!(!i.advance(25));
        assert!(i.advance(30));
        assert!(i.mark_applied(2));
    }

    #[test]
    fn xen_refuses_ipv6_and_enforcement_refuses_optional() {
        let mut i = sample("t2.micro");
        let patch = OptionsPatch {
            http_protocol_ipv6: Some(HttpProtocolIpv6::Enabled),
            ..Default::default()
        };
        assert_eq!(
            i.modify_metadata(&patch, &AccountDefaults::default()),
            Hypervisor::Xen.allows(HttpProtocolIpv6::Enabled)
        );
        assert_eq!(i.options_generation, 1, "nothing changed");
        let d = AccountDefaults {
            http_tokens_enforced: Some(HttpTokensEnforced::Enabled),
            ..Default::default()
        };
        let patch = OptionsPatch {
            http_tokens: Some(HttpTokens::Optional),
            ..Default::default()
        };
        assert!(matches!(
            i.modify_metadata(&patch, &d),
            Err(Ec2Error::UnsupportedOperation(_))
        ));
        // A change that does not touch HttpTokens is allowed.
        let patch = OptionsPatch {
            hop_limit: Some(HopLimit::TWO),
            ..Default::default()
        };
        assert!(i.modify_metadata(&patch, &d).is_ok());
    }

    #[test]
    fn lifecycle() {
        let mut i = sample("m5.large");
        i.state = InstanceState::Pending;
        i.transition = Some(Transition {
            to: InstanceState::Running,
            due_ms: 5,
        });
        assert!(!i.advance(4));
        assert!(i.advance(5));
        assert_eq!(i.state, InstanceState::Running);
        let c = i.terminate(10, 5).unwrap();
        assert_eq!(
            (c.previous, c.current),
            (InstanceState::Running, InstanceState::ShuttingDown)
        );
        assert!(i.start(11, 5).is_err());
        assert!(i.stop(11, 5, false).is_err());
        assert!(i.advance(15));
        assert_eq!(i.state, InstanceState::Terminated);
        assert_eq!(i.terminated_at_ms, Some(15));
        let again = i.terminate(20, 5).unwrap();
        assert_eq!(again.current, InstanceState::Terminated);
    }

    #[test]
    fn protected_instances() {
        let mut i = sample("m5.large");
        i.disable_api_termination = true;
        assert!(matches!(
            i.terminate(0, 1),
            Err(Ec2Error::OperationNotPermitted(_))
        ));
        i.disable_api_stop = true;
        assert!(matches!(
            i.stop(0, 1, false),
            Err(Ec2Error::OperationNotPermitted(_))
        ));
    }

    #[test]
    fn tags_in_metadata_need_safe_keys() {
        let mut i = sample("m5.large");
        i.tags.push(Tag {
            key: "bad key".into(),
            value: "x".into(),
        });
        let patch = OptionsPatch {
            instance_metadata_tags: Some(InstanceMetadataTags::Enabled),
            ..Default::default()
        };
        assert!(i
            .modify_metadata(&patch, &AccountDefaults::default())
            .is_err());
        i.tags.clear();
        i.modify_metadata(&patch, &AccountDefaults::default())
            .unwrap();
        assert!(i
            .set_tags(&[Tag {
                key: "a/b".into(),
                value: String::new()
            }])
            .is_err());
        assert!(i
            .set_tags(&[Tag {
                key: "Name".into(),
                value: "web".into()
            }])
            .is_ok());
    }

    #[test]
    fn reason_time() {
        assert_eq!(fmt_reason_time(0), "1970-01-01 00:00:00 GMT");
        assert_eq!(
            fmt_reason_time(1_763_830_800_000),
            "2025-11-22 17:00:00 GMT"
        );
    }

    #[test]
    fn attributes_that_need_a_stopped_instance() {
        let mut i = sample("t3.micro");
        i.cpu_credits = Some("standard".into());
        i.modify_attribute(&AttributeChange::DisableApiTermination(true))
            .unwrap();
        assert!(i.disable_api_termination);
        for change in [
            AttributeChange::InstanceType("m5.large".into()),
            AttributeChange::UserData(Some("aGk=".into())),
            AttributeChange::EbsOptimized(true),
        ] {
            let before = i.clone();
            let err = i.modify_attribute(&change).unwrap_err();
            assert!(
                matches!(err, Ec2Error::IncorrectInstanceState(_)),
                "{change:?}"
            );
            assert_eq!(i, before, "nothing changes");
        }
        i.state = InstanceState::Stopped;
        i.modify_attribute(&AttributeChange::InstanceType("m5.large".into()))
            .unwrap();
        assert_eq!(
            (i.instance_type.as_str(), &i.cpu_credits),
            ("m5.large", &None)
        );
        i.modify_attribute(&AttributeChange::InstanceType("t2.micro".into()))
            .unwrap();
        assert_eq!(i.cpu_credits.as_deref(), Some("standard"), "T2 default");
        assert!(i
            .modify_attribute(&AttributeChange::InstanceType("t4g.micro".into()))
            .is_err());
        assert!(i
            .modify_attribute(&AttributeChange::InstanceType("x9.huge".into()))
            .is_err());
        i.state = InstanceState::Terminated;
        assert!(i
            .modify_attribute(&AttributeChange::DisableApiStop(true))
            .is_err());
    }
}
