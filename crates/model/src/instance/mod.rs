//! Instances: the record the store keeps of one, and what the domain decides about it.
//!
//! A change of options is recorded as the desired options with a new generation; the options
//! read `pending` until the metadata host that serves the instance has switched to that
//! generation and said so (`mark_applied`). A stopped instance stays `pending` until it starts.
//!
//! - this module: the record ([`Instance`]), its state ([`InstanceState`]), the transition
//!   it waits for and why it is in its state; its type's hypervisor and architecture.
//! - `lifecycle`: Start, Stop, Terminate and Reboot on one instance, and the transitions that
//!   fall due (`pending` → `running`, `stopping` → `stopped`, `shutting-down` → `terminated`).
//! - `metadata`: the desired/applied generations of its metadata options,
//!   ModifyInstanceMetadataOptions, and the tag keys the metadata service must be able to serve.
//! - `attributes`: ModifyInstanceAttribute ([`AttributeChange`]) and its CPU credit option.
//! - `events`: its Spot interruption and maintenance events taking effect, and the writes
//!   that schedule, move and cancel them (`crate::events` holds the events themselves).
//! - `filters`: the values DescribeInstances filters it by.
//! - `network`: where it was launched ([`NetworkPlacement`]) and its private DNS name.

mod attributes;
mod events;
mod filters;
mod lifecycle;
mod metadata;
mod network;

pub use attributes::AttributeChange;
pub use lifecycle::{LifecycleProgress, StateChange, Step};
pub use metadata::{in_force, OptionsProgress};
pub use network::{private_dns_name, NetworkPlacement};

use crate::catalogue::{self, Hypervisor};
use crate::options::MetadataOptions;
use crate::tags::Tag;
use crate::Scope;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// The state of an instance, named (and stored) as EC2 names it.
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
    /// Every state, in the order of their codes (a listing's filter on states that the store
    /// answers from its index, e.g. every state but `terminated`).
    pub const ALL: [InstanceState; 6] = [
        InstanceState::Pending,
        InstanceState::Running,
        InstanceState::ShuttingDown,
        InstanceState::Terminated,
        InstanceState::Stopping,
        InstanceState::Stopped,
    ];

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
    pub code: StateReasonCode,
    pub message: String,
}

impl StateReason {
    /// What a launched instance reports until it runs.
    pub fn pending() -> Self {
        StateReason {
            code: StateReasonCode::Pending,
            message: "pending".into(),
        }
    }

    /// What EC2 leaves when it stops or terminates the instance itself (`Server.…`; the
    /// messages after the code are UNCONFIRMED).
    pub(crate) fn service(code: StateReasonCode) -> Self {
        let text = match code {
            StateReasonCode::SpotInstanceTermination => "Spot instance termination",
            StateReasonCode::SpotInstanceShutdown => "Spot instance shutdown",
            StateReasonCode::ScheduledStop => "Stopped due to scheduled retirement",
            StateReasonCode::Pending | StateReasonCode::UserInitiatedShutdown => "",
        };
        StateReason {
            code,
            message: format!("{}: {text}", code.as_str()),
        }
    }

    /// What StopInstances and TerminateInstances leave.
    pub(crate) fn user_initiated_shutdown() -> Self {
        let code = StateReasonCode::UserInitiatedShutdown;
        StateReason {
            code,
            message: format!("{}: User initiated shutdown", code.as_str()),
        }
    }
}

/// The codes of the state reasons imds gives (EC2 has more, for what imds does not
/// simulate: failures at launch, …), stored and reported by EC2's name (botocore's
/// `StateReason` documentation lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateReasonCode {
    #[serde(rename = "pending")]
    Pending,
    #[serde(rename = "Client.UserInitiatedShutdown")]
    UserInitiatedShutdown,
    #[serde(rename = "Server.SpotInstanceTermination")]
    SpotInstanceTermination,
    #[serde(rename = "Server.SpotInstanceShutdown")]
    SpotInstanceShutdown,
    #[serde(rename = "Server.ScheduledStop")]
    ScheduledStop,
}

impl StateReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            StateReasonCode::Pending => "pending",
            StateReasonCode::UserInitiatedShutdown => "Client.UserInitiatedShutdown",
            StateReasonCode::SpotInstanceTermination => "Server.SpotInstanceTermination",
            StateReasonCode::SpotInstanceShutdown => "Server.SpotInstanceShutdown",
            StateReasonCode::ScheduledStop => "Server.ScheduledStop",
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
    /// The credit option of a burstable type; `None` for any other.
    pub cpu_credits: Option<crate::launch::CpuCredits>,
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
    /// The Spot market it was launched in; `None` for on-demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<crate::events::SpotMarket>,
    /// Its Spot interruption, maintenance events and Auto Scaling target state.
    #[serde(
        default,
        skip_serializing_if = "crate::events::InstanceEvents::is_empty"
    )]
    pub events: crate::events::InstanceEvents,
}

/// The instance attribute (`instance_attrs`) holding its association's id.
pub const ASSOCIATION_ATTRIBUTE: &str = "iam-instance-profile-association-id";

fn yes() -> bool {
    true
}

impl Instance {
    pub fn hypervisor(&self) -> Hypervisor {
        catalogue::instance_type(&self.instance_type)
            .map(|t| t.hypervisor)
            .unwrap_or(Hypervisor::Nitro)
    }

    pub fn architecture(&self) -> &'static str {
        catalogue::instance_type(&self.instance_type)
            .map(|t| t.architecture)
            .unwrap_or("x86_64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::{CpuCredits, ShutdownBehavior};

    /// Instance documents as the store wrote them before the credit option and the state
    /// reason's code were typed (`testdata/`, written by that code): they read, and write back
    /// byte for byte, so stored instances and every response stay the same.
    #[test]
    fn documents_written_before_read_and_write_back_the_same() {
        let stopping = include_str!("testdata/stopping.json");
        let i: Instance = serde_json::from_str(stopping).unwrap();
        assert_eq!(i.cpu_credits, Some(CpuCredits::Unlimited));
        assert_eq!(i.shutdown_behavior, ShutdownBehavior::Terminate);
        assert_eq!(
            i.state_reason.as_ref().map(|r| r.code),
            Some(StateReasonCode::UserInitiatedShutdown)
        );
        assert_eq!(serde_json::to_string_pretty(&i).unwrap(), stopping);

        // The same instance, stopped now, is the same document.
        let mut now = crate::testing::instance("t3.micro");
        now.cpu_credits = Some(CpuCredits::Unlimited);
        now.shutdown_behavior = ShutdownBehavior::Terminate;
        now.tags = i.tags.clone();
        now.stop(1_763_830_800_000, 1000, false).unwrap();
        assert_eq!(now, i);

        let pending = include_str!("testdata/pending.json");
        let p: Instance = serde_json::from_str(pending).unwrap();
        assert_eq!(p.state_reason, Some(StateReason::pending()));
        assert_eq!(p.cpu_credits, None);
        assert_eq!(serde_json::to_string(&p).unwrap(), pending);
    }
}
