//! The versions of a customer managed policy: up to five, one of them the default (what
//! evaluation reads), ids never reused (IAM API reference: CreatePolicyVersion,
//! SetDefaultPolicyVersion, DeletePolicyVersion).

use super::*;
use crate::error::IamError;

fn no_version(arn: &str, id: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "Policy {arn} version {id} does not exist or is not attachable."
    ))
}

/// A managed policy keeps at most five versions (IAM API reference, CreatePolicyVersion: "A
/// managed policy can have up to five versions").
pub const MAX_POLICY_VERSIONS: usize = 5;

impl AccountIam {
    fn own_policy_mut(&mut self, arn: &str) -> Result<&mut ManagedPolicy, IamError> {
        let name = self.own_policy(arn)?.name.clone();
        self.policies.get_mut(&name).ok_or_else(|| no_policy(arn))
    }

    /// A version of a managed policy by id.
    pub fn policy_version<'a>(
        &'a self,
        p: &'a ManagedPolicy,
        id: &str,
    ) -> Result<&'a PolicyVersion, IamError> {
        p.versions
            .iter()
            .find(|v| v.id == id)
            .ok_or_else(|| no_version(&p.arn, id))
    }

    /// A new version of one of the account's policies, the default one if `set_default`
    /// (then the policy's `UpdateDate` moves). At most [`MAX_POLICY_VERSIONS`] are kept.
    pub fn create_policy_version(
        &mut self,
        arn: &str,
        doc: &str,
        set_default: bool,
        now_ms: i64,
    ) -> Result<PolicyVersion, IamError> {
        let doc = PolicyDoc::new(doc)?;
        let p = self.own_policy_mut(arn)?;
        if p.versions.len() >= MAX_POLICY_VERSIONS {
            return Err(IamError::LimitExceeded(format!(
                "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version."
            )));
        }
        let id = p.next_version_id();
        p.versions_made = ManagedPolicy::version_number(&id).unwrap_or_default();
        let v = PolicyVersion {
            id: id.clone(),
            doc,
            created_ms: now_ms,
        };
        p.versions.push(v.clone());
        if set_default {
            p.default_version = id;
            p.updated_ms = now_ms;
        }
        Ok(v)
    }

    /// The default version cannot be deleted (DeleteConflict).
    pub fn delete_policy_version(&mut self, arn: &str, id: &str) -> Result<(), IamError> {
        let p = self.own_policy_mut(arn)?;
        if !p.versions.iter().any(|v| v.id == id) {
            return Err(no_version(arn, id));
        }
        if p.default_version == id {
            return Err(IamError::DeleteConflict(
                "Cannot delete the default version of a policy.".into(),
            ));
        }
        p.versions.retain(|v| v.id != id);
        Ok(())
    }

    pub fn set_default_policy_version(
        &mut self,
        arn: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<(), IamError> {
        let p = self.own_policy_mut(arn)?;
        if !p.versions.iter().any(|v| v.id == id) {
            return Err(no_version(arn, id));
        }
        if p.default_version != id {
            p.default_version = id.to_string();
            p.updated_ms = now_ms;
        }
        Ok(())
    }
}
