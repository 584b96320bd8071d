//! What happens to an instance beyond its user's calls, and what the instance reads of it
//! in its metadata: Spot interruptions and rebalance recommendations (`spot`), scheduled
//! maintenance (`maintenance`), and the Auto Scaling lifecycle state it is heading to
//! ([`TargetLifecycleState`]); the metadata service's bodies for each (`imds`). Spec
//! events.md.
//!
//! An instance keeps its events in its record ([`InstanceEvents`]); each timed step (a
//! recommendation or notice emitted, an interruption or a maintenance event taking effect)
//! is taken when due by `Instance::take_due_events`, as a write like any other, so the
//! metadata hosts see it through the change feed and what they serve is always what the
//! store holds.

pub mod imds;
pub mod maintenance;
pub mod spot;

pub use maintenance::{EventCode, EventSchedule, EventState, MaintenanceEvent};
pub use spot::{
    Interruption, InterruptionBehavior, MarketRequest, SpotMarket, SpotNotice, SpotRequestType,
};

use serde::{Deserialize, Serialize};

/// `autoscaling/target-lifecycle-state`: the Auto Scaling state an instance is heading to
/// (Auto Scaling user guide, "Retrieve the target lifecycle state through instance metadata").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TargetLifecycleState {
    InService,
    Terminated,
    Detached,
    Standby,
    #[serde(rename = "Warmed:Hibernated")]
    WarmedHibernated,
    #[serde(rename = "Warmed:Running")]
    WarmedRunning,
    #[serde(rename = "Warmed:Stopped")]
    WarmedStopped,
    #[serde(rename = "Warmed:Terminated")]
    WarmedTerminated,
}

impl TargetLifecycleState {
    pub const ALL: [TargetLifecycleState; 8] = [
        TargetLifecycleState::InService,
        TargetLifecycleState::Terminated,
        TargetLifecycleState::Detached,
        TargetLifecycleState::Standby,
        TargetLifecycleState::WarmedHibernated,
        TargetLifecycleState::WarmedRunning,
        TargetLifecycleState::WarmedStopped,
        TargetLifecycleState::WarmedTerminated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetLifecycleState::InService => "InService",
            TargetLifecycleState::Terminated => "Terminated",
            TargetLifecycleState::Detached => "Detached",
            TargetLifecycleState::Standby => "Standby",
            TargetLifecycleState::WarmedHibernated => "Warmed:Hibernated",
            TargetLifecycleState::WarmedRunning => "Warmed:Running",
            TargetLifecycleState::WarmedStopped => "Warmed:Stopped",
            TargetLifecycleState::WarmedTerminated => "Warmed:Terminated",
        }
    }

    pub fn parse(value: &str) -> Option<TargetLifecycleState> {
        TargetLifecycleState::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// An instance's events, as its record keeps them. Empty for most instances (and then not
/// written into the record at all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceEvents {
    /// A Spot interruption still to take a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interruption: Option<Interruption>,
    /// The rebalance recommendation emitted (its `noticeTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalance_ms: Option<i64>,
    /// The interruption notice emitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<SpotNotice>,
    /// Scheduled maintenance, active and past, in the order scheduled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<MaintenanceEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_lifecycle_state: Option<TargetLifecycleState>,
}

impl InstanceEvents {
    pub fn is_empty(&self) -> bool {
        self == &InstanceEvents::default()
    }

    /// The active maintenance events, soonest first.
    pub fn scheduled(&self) -> Vec<&MaintenanceEvent> {
        let mut active: Vec<&MaintenanceEvent> = self
            .maintenance
            .iter()
            .filter(|e| e.state == EventState::Active)
            .collect();
        active.sort_by_key(|e| e.not_before_ms);
        active
    }

    /// The completed and canceled maintenance events, in the order scheduled.
    pub fn history(&self) -> Vec<&MaintenanceEvent> {
        self.maintenance
            .iter()
            .filter(|e| e.state != EventState::Active)
            .collect()
    }
}
