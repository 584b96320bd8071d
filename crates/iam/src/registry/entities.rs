//! What IAM stores, and policy documents parsed once when written.

use crate::error::IamError;
use crate::policy::Policy;
use crate::trust::TrustPolicy;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A kind of document IAM parses when it is written (permissions or trust policy).
pub trait Parse: Sized {
    /// The parsed form; a document IAM would refuse is `MalformedPolicyDocument`.
    fn parse_doc(text: &str) -> Result<Self, IamError>;
}

impl Parse for Policy {
    fn parse_doc(text: &str) -> Result<Self, IamError> {
        Policy::parse_str(text).map_err(|e| IamError::MalformedPolicyDocument(e.0))
    }
}

impl Parse for TrustPolicy {
    fn parse_doc(text: &str) -> Result<Self, IamError> {
        TrustPolicy::parse_str(text).map_err(IamError::MalformedPolicyDocument)
    }
}

/// A policy document: its text as written (what the API gives back), and its parsed form
/// (what evaluation uses). Persisted as the text alone.
#[derive(Debug)]
pub struct Doc<T> {
    pub text: String,
    pub parsed: Arc<T>,
}

impl<T> Clone for Doc<T> {
    fn clone(&self) -> Self {
        Doc {
            text: self.text.clone(),
            parsed: self.parsed.clone(),
        }
    }
}

impl<T: Parse> Doc<T> {
    pub fn new(text: &str) -> Result<Doc<T>, IamError> {
        Ok(Doc {
            text: text.to_string(),
            parsed: Arc::new(T::parse_doc(text)?),
        })
    }
}

impl<T> Serialize for Doc<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de, T: Parse> Deserialize<'de> for Doc<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Doc::new(&text).map_err(serde::de::Error::custom)
    }
}

/// A permissions policy.
pub type PolicyDoc = Doc<Policy>;
/// A role's trust policy.
pub type TrustDoc = Doc<TrustPolicy>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub status: KeyStatus,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// What users, groups and roles share: the policies that make up their permissions (a
/// group's `boundary` stays empty: IAM has no boundary for groups).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Permissions {
    /// Inline policies by name.
    pub inline: BTreeMap<String, PolicyDoc>,
    /// Managed policies attached, by ARN, in attachment order.
    pub attached: Vec<String>,
    /// The managed policy used as permissions boundary.
    pub boundary: Option<String>,
}

impl Permissions {
    /// A user or role can be deleted only once its policies are gone (IAM's DeleteConflict).
    pub(super) fn check_deletable(&self) -> Result<(), IamError> {
        if !self.inline.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        if !self.attached.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must detach all policies first.".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    pub permissions: Permissions,
    pub keys: Vec<AccessKey>,
    pub tags: Vec<Tag>,
}

/// An IAM user group: its policies apply to each of its users (IAM User Guide, "Policy
/// evaluation logic": a user's identity-based policies include those of its groups). A
/// group is not a principal: nothing signs in as one, and a policy cannot name one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    pub permissions: Permissions,
    /// Its users' names, in the order they were added.
    pub users: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    pub trust: TrustDoc,
    pub description: Option<String>,
    pub max_session_duration: u32,
    pub permissions: Permissions,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub doc: PolicyDoc,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub description: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub versions: Vec<PolicyVersion>,
    pub default_version: String,
    /// How many versions were ever made: ids are never reused (`v1`, `v2`, … in the order
    /// made, whatever was deleted since). Records written before it read as 0 (then the
    /// highest id kept counts).
    #[serde(default)]
    pub versions_made: u32,
}

impl ManagedPolicy {
    /// The number of a version id (`v3` → 3).
    pub fn version_number(id: &str) -> Option<u32> {
        id.strip_prefix('v')?.parse().ok()
    }

    /// The id of the next version made.
    pub(crate) fn next_version_id(&self) -> String {
        let kept = self
            .versions
            .iter()
            .filter_map(|v| ManagedPolicy::version_number(&v.id))
            .max()
            .unwrap_or(0);
        format!("v{}", self.versions_made.max(kept) + 1)
    }

    pub(crate) fn default_doc(&self) -> Option<&PolicyDoc> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| &v.doc)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceProfile {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub created_ms: i64,
    /// Role names (IAM allows one).
    pub roles: Vec<String>,
}
