//! IAM instance profile associations: how a role is given to an instance after launch
//! (AssociateIamInstanceProfile, ReplaceIamInstanceProfileAssociation,
//! DisassociateIamInstanceProfile), and the association a launch with a profile makes.
//!
//! An instance has one association slot. The requests move it to a transitional state
//! (`associating` after Associate and Replace, `disassociating` after Disassociate, as the EC2
//! API Reference's examples answer); the metadata host *settles* it (`associated`,
//! `disassociated`) once it serves the change: that is when the new role's credentials (or
//! none) are what the instance gets. Until then the metadata service serves the profile the
//! instance had before the request ([`Instance::served_profile`]), as options stay in force
//! until applied. A disassociated association stays listed until the instance is associated
//! again (UNCONFIRMED: how long EC2 lists disassociated associations is not published).

use crate::error::Ec2Error;
use crate::instance::{IamProfileRef, Instance, InstanceState};
use serde::{Deserialize, Serialize};

/// The id prefix of an association (`iip-assoc-0e7736511a163c209`, EC2 API Reference,
/// AssociateIamInstanceProfile example).
pub const ASSOCIATION: &str = "iip-assoc";

/// `IamInstanceProfileAssociationState` of botocore's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssociationState {
    Associating,
    Associated,
    Disassociating,
    Disassociated,
}

impl AssociationState {
    pub fn as_str(self) -> &'static str {
        match self {
            AssociationState::Associating => "associating",
            AssociationState::Associated => "associated",
            AssociationState::Disassociating => "disassociating",
            AssociationState::Disassociated => "disassociated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileAssociation {
    pub association_id: String,
    pub profile: IamProfileRef,
    pub state: AssociationState,
    /// When the association was made (`timestamp`).
    pub timestamp_ms: i64,
    /// The profile served until this association settles: the one a Replace replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<IamProfileRef>,
}

impl ProfileAssociation {
    /// An association made at launch: the instance boots with its role, so it is
    /// `associated` from the start.
    pub(crate) fn at_launch(association_id: String, profile: IamProfileRef, now_ms: i64) -> Self {
        ProfileAssociation {
            association_id,
            profile,
            state: AssociationState::Associated,
            timestamp_ms: now_ms,
            replaces: None,
        }
    }

    /// Whether it still holds the instance's slot (a disassociated one does not).
    pub fn is_live(&self) -> bool {
        self.state != AssociationState::Disassociated
    }
}

/// `IncorrectState` of Replace (and Disassociate) on an association that is not the one in
/// force, worded as EC2 words it (aws/aws-cli#5251, Replace on a stopped instance).
fn not_active(association_id: &str) -> Ec2Error {
    Ec2Error::IncorrectState(format!(
        "The association {association_id} is not the active association"
    ))
}

impl Instance {
    /// The instance's association with this id, or `InvalidAssociationID.NotFound`. A
    /// disassociated association is no longer one that requests can name.
    fn live_association(&self, association_id: &str) -> Result<&ProfileAssociation, Ec2Error> {
        self.profile_association
            .as_ref()
            .filter(|a| a.association_id == association_id && a.is_live())
            .ok_or_else(|| Ec2Error::InvalidAssociationIdNotFound(association_id.to_string()))
    }

    /// AssociateIamInstanceProfile: one association per instance ("There is an existing
    /// association for instance …", `IncorrectState`, quoted in
    /// aws-samples/one-observability-demo#201); running or stopped instances only (EC2 API
    /// Reference: "Associates an IAM instance profile with a running or stopped instance").
    pub fn associate_profile(
        &mut self,
        profile: IamProfileRef,
        association_id: String,
        now_ms: i64,
    ) -> Result<&ProfileAssociation, Ec2Error> {
        if self
            .profile_association
            .as_ref()
            .is_some_and(|a| a.is_live())
        {
            return Err(Ec2Error::IncorrectState(format!(
                "There is an existing association for instance {}",
                self.instance_id
            )));
        }
        self.refuse_when_gone()?;
        let before = self.served_profile().cloned();
        self.iam_instance_profile = Some(profile.clone());
        Ok(self.profile_association.insert(ProfileAssociation {
            association_id,
            profile,
            state: AssociationState::Associating,
            timestamp_ms: now_ms,
            replaces: before,
        }))
    }

    /// ReplaceIamInstanceProfileAssociation: a new association (new id, `associating`) takes
    /// the place of the one named, which must be the one in force (`associated`) on a running
    /// instance (EC2 API Reference: "for the specified running instance"; aws/aws-cli#5251:
    /// on a stopped instance, "The association … is not the active association").
    pub fn replace_profile(
        &mut self,
        association_id: &str,
        profile: IamProfileRef,
        new_association_id: String,
        now_ms: i64,
    ) -> Result<&ProfileAssociation, Ec2Error> {
        let current = self.live_association(association_id)?;
        if current.state != AssociationState::Associated || self.state != InstanceState::Running {
            return Err(not_active(association_id));
        }
        let before = self.served_profile().cloned();
        self.iam_instance_profile = Some(profile.clone());
        Ok(self.profile_association.insert(ProfileAssociation {
            association_id: new_association_id,
            profile,
            state: AssociationState::Associating,
            timestamp_ms: now_ms,
            replaces: before,
        }))
    }

    /// DisassociateIamInstanceProfile: `disassociating` until the metadata host settles it
    /// (EC2 API Reference example answers `disassociating`); running or stopped instances.
    /// The instance no longer reports the profile (DescribeInstances) from now on.
    /// UNCONFIRMED: EC2's answer for an association already `disassociating`.
    pub fn disassociate_profile(
        &mut self,
        association_id: &str,
    ) -> Result<&ProfileAssociation, Ec2Error> {
        let current = self.live_association(association_id)?;
        if current.state == AssociationState::Disassociating {
            return Err(not_active(association_id));
        }
        self.refuse_when_gone()?;
        self.iam_instance_profile = None;
        let a = self
            .profile_association
            .as_mut()
            .ok_or_else(|| Ec2Error::InvalidAssociationIdNotFound(association_id.to_string()))?;
        a.state = AssociationState::Disassociating;
        a.replaces = None;
        Ok(a)
    }

    /// The metadata host serves the association `association_id` now: `associating` →
    /// `associated`, `disassociating` → `disassociated`. Returns whether anything changed (an
    /// association replaced or settled meanwhile is left alone).
    pub fn settle_association(&mut self, association_id: &str) -> bool {
        let Some(a) = self
            .profile_association
            .as_mut()
            .filter(|a| a.association_id == association_id)
        else {
            return false;
        };
        a.state = match a.state {
            AssociationState::Associating => AssociationState::Associated,
            AssociationState::Disassociating => AssociationState::Disassociated,
            _ => return false,
        };
        a.replaces = None;
        true
    }

    /// The association the metadata host has still to settle, if any.
    pub fn unsettled_association(&self) -> Option<&str> {
        self.profile_association
            .as_ref()
            .filter(|a| {
                matches!(
                    a.state,
                    AssociationState::Associating | AssociationState::Disassociating
                )
            })
            .map(|a| a.association_id.as_str())
    }

    /// The profile whose role the metadata service serves: that of a settled association; the
    /// previous one while an association is `associating`; still the old one while
    /// `disassociating`; none once disassociated. An instance stored before associations
    /// existed serves the profile it was launched with.
    pub fn served_profile(&self) -> Option<&IamProfileRef> {
        match &self.profile_association {
            None => self.iam_instance_profile.as_ref(),
            Some(a) => match a.state {
                AssociationState::Associated | AssociationState::Disassociating => Some(&a.profile),
                AssociationState::Associating => a.replaces.as_ref(),
                AssociationState::Disassociated => None,
            },
        }
    }

    fn refuse_when_gone(&self) -> Result<(), Ec2Error> {
        if self.state.is_gone() {
            // UNCONFIRMED: EC2's wording for an instance shutting down or terminated.
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is not in a valid state for this operation.",
                self.instance_id
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> IamProfileRef {
        IamProfileRef {
            arn: format!("arn:aws:iam::123456789012:instance-profile/{name}"),
            id: format!("AIPA{name}"),
            role: Some(format!("{name}-role")),
        }
    }

    fn running() -> Instance {
        crate::testing::instance("t3.micro")
    }

    #[test]
    fn associate_then_settle_serves_the_new_role() {
        let mut i = running();
        let a = i
            .associate_profile(profile("a"), "iip-assoc-1".into(), 5)
            .unwrap();
        assert_eq!(
            (a.state, a.timestamp_ms),
            (AssociationState::Associating, 5)
        );
        assert_eq!(i.served_profile(), None, "nothing served until settled");
        assert_eq!(i.iam_instance_profile, Some(profile("a")));
        assert_eq!(i.unsettled_association(), Some("iip-assoc-1"));
        assert!(i.settle_association("iip-assoc-1"));
        assert!(
            !i.settle_association("iip-assoc-1"),
            "settling twice is a no-op"
        );
        assert_eq!(i.served_profile(), Some(&profile("a")));
        assert_eq!(i.unsettled_association(), None);
    }

    #[test]
    fn one_association_per_instance() {
        let mut i = running();
        i.associate_profile(profile("a"), "iip-assoc-1".into(), 0)
            .unwrap();
        let before = i.clone();
        let err = i
            .associate_profile(profile("b"), "iip-assoc-2".into(), 0)
            .unwrap_err();
        assert_eq!(
            err,
            Ec2Error::IncorrectState(format!(
                "There is an existing association for instance {}",
                i.instance_id
            ))
        );
        assert_eq!(i, before, "nothing changed");
    }

    #[test]
    fn replace_needs_the_active_association_on_a_running_instance() {
        let mut i = running();
        i.associate_profile(profile("a"), "iip-assoc-1".into(), 0)
            .unwrap();
        assert_eq!(
            i.replace_profile("iip-assoc-1", profile("b"), "iip-assoc-2".into(), 1),
            Err(not_active("iip-assoc-1")),
            "still associating"
        );
        assert_eq!(
            i.replace_profile("iip-assoc-9", profile("b"), "iip-assoc-2".into(), 1),
            Err(Ec2Error::InvalidAssociationIdNotFound("iip-assoc-9".into()))
        );
        i.settle_association("iip-assoc-1");
        i.state = InstanceState::Stopped;
        assert_eq!(
            i.replace_profile("iip-assoc-1", profile("b"), "iip-assoc-2".into(), 1),
            Err(not_active("iip-assoc-1")),
            "stopped (aws/aws-cli#5251)"
        );
        i.state = InstanceState::Running;
        let a = i
            .replace_profile("iip-assoc-1", profile("b"), "iip-assoc-2".into(), 1)
            .unwrap();
        assert_eq!(a.association_id, "iip-assoc-2");
        assert_eq!(a.state, AssociationState::Associating);
        assert_eq!(
            i.served_profile(),
            Some(&profile("a")),
            "old role until settled"
        );
        assert!(!i.settle_association("iip-assoc-1"), "the old id is gone");
        assert!(i.settle_association("iip-assoc-2"));
        assert_eq!(i.served_profile(), Some(&profile("b")));
    }

    #[test]
    fn disassociate_then_associate_again() {
        let mut i = running();
        i.associate_profile(profile("a"), "iip-assoc-1".into(), 0)
            .unwrap();
        i.settle_association("iip-assoc-1");
        i.state = InstanceState::Stopped;
        let a = i.disassociate_profile("iip-assoc-1").unwrap();
        assert_eq!(a.state, AssociationState::Disassociating);
        assert_eq!(i.iam_instance_profile, None);
        assert_eq!(i.served_profile(), Some(&profile("a")), "until settled");
        assert_eq!(
            i.disassociate_profile("iip-assoc-1"),
            Err(not_active("iip-assoc-1"))
        );
        assert!(i.settle_association("iip-assoc-1"));
        assert_eq!(i.served_profile(), None);
        assert_eq!(
            i.disassociate_profile("iip-assoc-1"),
            Err(Ec2Error::InvalidAssociationIdNotFound("iip-assoc-1".into())),
            "a disassociated association cannot be named"
        );
        i.associate_profile(profile("b"), "iip-assoc-2".into(), 3)
            .unwrap();
        assert_eq!(
            i.profile_association.as_ref().map(|a| a.replaces.clone()),
            Some(None),
            "nothing served before"
        );
    }

    #[test]
    fn gone_instances_refuse() {
        let mut i = running();
        i.state = InstanceState::Terminated;
        assert!(matches!(
            i.associate_profile(profile("a"), "iip-assoc-1".into(), 0),
            Err(Ec2Error::IncorrectInstanceState(_))
        ));
    }

    #[test]
    fn records_without_associations_serve_their_launch_profile() {
        let mut i = running();
        i.iam_instance_profile = Some(profile("old"));
        assert_eq!(i.served_profile(), Some(&profile("old")));
    }
}
