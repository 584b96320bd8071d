//! The attributes of one instance that ModifyInstanceAttribute and
//! ModifyInstanceCreditSpecification change, and when they may.

use super::{Instance, InstanceState};
use crate::catalogue;
use crate::error::Ec2Error;
use crate::launch::CpuCredits;

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

impl Instance {
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
                // A burstable type keeps the option it had, or takes its own default.
                self.cpu_credits = CpuCredits::for_type(t, self.cpu_credits);
                self.instance_type = t.name.to_string();
            }
        }
        Ok(())
    }

    /// The credit option DescribeInstanceCreditSpecifications reports: one of a type that is
    /// not burstable reads `standard`, as EC2 answers (k1LoW/awspec#404).
    pub fn reported_cpu_credits(&self) -> CpuCredits {
        self.cpu_credits.unwrap_or(CpuCredits::Standard)
    }

    /// ModifyInstanceCreditSpecification for this instance: burstable types only, not once
    /// shutting down or terminated. The error is the item's `(code, message)` (the action
    /// reports failures per instance).
    pub fn set_cpu_credits(&mut self, credits: CpuCredits) -> Result<(), (&'static str, String)> {
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
        self.cpu_credits = Some(credits);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::instance as sample;

    #[test]
    fn attributes_that_need_a_stopped_instance() {
        let mut i = sample("t3.micro");
        i.cpu_credits = Some(CpuCredits::Standard);
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
        assert_eq!(
            i.cpu_credits.map(CpuCredits::as_str),
            Some("standard"),
            "T2 default"
        );
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
