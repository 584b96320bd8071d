//! One account's IAM entities and the IAM API's operations on them.

use super::groups::no_group;
use super::tags::new_tags;
use super::*;
use crate::error::IamError;
use crate::policy::Policy;
use model::Arn;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One account's IAM entities.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountIam {
    pub id: String,
    pub users: BTreeMap<String, User>,
    pub roles: BTreeMap<String, Role>,
    /// Customer managed policies by name (names are unique in an account, whatever the path).
    pub policies: BTreeMap<String, ManagedPolicy>,
    pub profiles: BTreeMap<String, InstanceProfile>,
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
}

pub(super) fn no_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

pub(super) fn no_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

pub(super) fn no_policy(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

fn no_profile(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("Instance Profile {name} cannot be found."))
}

/// A new entity's name and path checked as IAM checks them; the path, `/` by default.
pub(super) fn named_at<'p>(
    field: &str,
    name: &str,
    max: usize,
    path: Option<&'p str>,
) -> Result<&'p str, IamError> {
    check_name(field, name, max)?;
    let path = path.unwrap_or("/");
    check_path(path)?;
    Ok(path)
}

/// Whether an entity of the kind already has the name: IAM's names "are not distinguished by
/// case" (IAM User Guide, "IAM identifiers").
pub(super) fn taken<T>(entities: &BTreeMap<String, T>, name: &str) -> bool {
    entities.keys().any(|n| n.eq_ignore_ascii_case(name))
}

/// Which permissions holder an operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    User(&'a str),
    Group(&'a str),
    Role(&'a str),
}

impl Holder<'_> {
    fn word(&self) -> &'static str {
        match self {
            Holder::User(_) => "user",
            Holder::Group(_) => "group",
            Holder::Role(_) => "role",
        }
    }
}

impl AccountIam {
    pub(super) fn put_records(&self, out: &mut Records) {
        let mut put = |kind: &str, name: &str, doc: serde_json::Result<String>| {
            if let Ok(doc) = doc {
                out.insert((self.id.clone(), kind.to_string(), name.to_string()), doc);
            }
        };
        for (n, x) in &self.users {
            put(KIND_USER, n, serde_json::to_string(x));
        }
        for (n, x) in &self.roles {
            put(KIND_ROLE, n, serde_json::to_string(x));
        }
        for (n, x) in &self.policies {
            put(KIND_POLICY, n, serde_json::to_string(x));
        }
        for (n, x) in &self.profiles {
            put(KIND_PROFILE, n, serde_json::to_string(x));
        }
        for (n, x) in &self.groups {
            put(KIND_GROUP, n, serde_json::to_string(x));
        }
    }

    pub fn user_arn(&self, u: &User) -> String {
        Arn::user(&self.id, &u.path, &u.name).to_string()
    }

    pub fn role_arn(&self, r: &Role) -> String {
        Arn::role(&self.id, &r.path, &r.name).to_string()
    }

    pub fn user(&self, name: &str) -> Result<&User, IamError> {
        self.users.get(name).ok_or_else(|| no_user(name))
    }

    pub fn role(&self, name: &str) -> Result<&Role, IamError> {
        self.roles.get(name).ok_or_else(|| no_role(name))
    }

    pub fn profile(&self, name: &str) -> Result<&InstanceProfile, IamError> {
        self.profiles.get(name).ok_or_else(|| no_profile(name))
    }

    /// A managed policy by ARN: this account's, or an AWS managed one.
    pub fn policy(&self, arn: &str) -> Result<&ManagedPolicy, IamError> {
        Arn::parse(arn).map_err(|e| IamError::InvalidInput(e.to_string()))?;
        if let Some(p) = aws_managed(arn) {
            return Ok(p);
        }
        self.policies
            .values()
            .find(|p| p.arn == arn)
            .ok_or_else(|| no_policy(arn))
    }

    /// The managed policies the account can use: the AWS managed ones imds knows, then its
    /// own (ListPolicies).
    pub fn managed_policies(&self) -> impl Iterator<Item = &ManagedPolicy> {
        aws_managed_all().iter().chain(self.policies.values())
    }

    /// How many users, groups and roles a managed policy is attached to.
    pub fn attachment_count(&self, arn: &str) -> usize {
        self.users
            .values()
            .map(|u| &u.permissions)
            .chain(self.groups.values().map(|g| &g.permissions))
            .chain(self.roles.values().map(|r| &r.permissions))
            .filter(|p| p.attached.iter().any(|a| a == arn))
            .count()
    }

    /// How many users and roles use a managed policy as their boundary.
    pub fn boundary_count(&self, arn: &str) -> usize {
        self.users
            .values()
            .map(|u| &u.permissions)
            .chain(self.roles.values().map(|r| &r.permissions))
            .filter(|p| p.boundary.as_deref() == Some(arn))
            .count()
    }

    fn permissions_mut(&mut self, h: Holder<'_>) -> Result<&mut Permissions, IamError> {
        match h {
            Holder::User(n) => self
                .users
                .get_mut(n)
                .map(|u| &mut u.permissions)
                .ok_or_else(|| no_user(n)),
            Holder::Group(n) => self
                .groups
                .get_mut(n)
                .map(|g| &mut g.permissions)
                .ok_or_else(|| no_group(n)),
            Holder::Role(n) => self
                .roles
                .get_mut(n)
                .map(|r| &mut r.permissions)
                .ok_or_else(|| no_role(n)),
        }
    }

    pub fn permissions(&self, h: Holder<'_>) -> Result<&Permissions, IamError> {
        match h {
            Holder::User(n) => self.user(n).map(|u| &u.permissions),
            Holder::Group(n) => self.group(n).map(|g| &g.permissions),
            Holder::Role(n) => self.role(n).map(|r| &r.permissions),
        }
    }

    // ---- users and access keys ----

    pub fn create_user(
        &mut self,
        name: &str,
        path: Option<&str>,
        tags: Vec<Tag>,
        now_ms: i64,
    ) -> Result<&User, IamError> {
        let path = named_at("userName", name, 64, path)?;
        let tags = new_tags(tags, "TagsPerUser")?;
        if taken(&self.users, name) {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {name} already exists."
            )));
        }
        let user = User {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("AIDA"),
            created_ms: now_ms,
            permissions: Permissions::default(),
            keys: Vec::new(),
            tags,
        };
        Ok(self.users.entry(name.to_string()).or_insert(user))
    }

    pub fn delete_user(&mut self, name: &str) -> Result<(), IamError> {
        let u = self.user(name)?;
        if !u.keys.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete access keys first.".into(),
            ));
        }
        u.permissions.check_deletable()?;
        // IAM's words for a user still in a group (UNCONFIRMED: an IAM-compatible service's
        // test of DeleteUser; the order of the checks is too).
        if self.groups_of(name).next().is_some() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove users from group first.".into(),
            ));
        }
        self.users.remove(name);
        Ok(())
    }

    // ---- roles ----

    #[allow(clippy::too_many_arguments)]
    pub fn create_role(
        &mut self,
        name: &str,
        path: Option<&str>,
        trust: &str,
        description: Option<String>,
        max_session_duration: Option<u32>,
        tags: Vec<Tag>,
        now_ms: i64,
    ) -> Result<&Role, IamError> {
        let path = named_at("roleName", name, 64, path)?;
        let tags = new_tags(tags, "TagsPerRole")?;
        let max = max_session_duration.unwrap_or(3600);
        if !(3600..=43200).contains(&max) {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{max}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200"
            )));
        }
        let trust = TrustDoc::new(trust)?;
        self.check_principals(&trust)?;
        if taken(&self.roles, name) {
            return Err(IamError::EntityAlreadyExists(format!(
                "Role with name {name} already exists."
            )));
        }
        let role = Role {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("AROA"),
            created_ms: now_ms,
            trust,
            description,
            max_session_duration: max,
            permissions: Permissions::default(),
            tags,
        };
        Ok(self.roles.entry(name.to_string()).or_insert(role))
    }

    /// IAM refuses a trust policy naming a user or role of this account that does not exist
    /// (it stores principals by unique id).
    fn check_principals(&self, trust: &TrustDoc) -> Result<(), IamError> {
        for p in trust.parsed.statements.iter().flat_map(|s| s.aws.iter()) {
            let Some(arn) = Arn::parse(p).ok().filter(|a| a.account == self.id) else {
                continue;
            };
            let exists = if let Some(n) = arn.iam_name("user") {
                self.users.contains_key(n)
            } else if let Some(n) = arn.iam_name("role") {
                self.roles.contains_key(n)
            } else {
                true
            };
            if !exists && !p.contains('*') {
                return Err(IamError::MalformedPolicyDocument(format!(
                    "Invalid principal in policy: \"AWS\":\"{p}\""
                )));
            }
        }
        Ok(())
    }

    pub fn delete_role(&mut self, name: &str) -> Result<(), IamError> {
        let r = self.role(name)?;
        if self
            .profiles
            .values()
            .any(|p| p.roles.iter().any(|x| x == name))
        {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove roles from instance profile first.".into(),
            ));
        }
        r.permissions.check_deletable()?;
        self.roles.remove(name);
        Ok(())
    }

    // ---- managed policies ----

    pub fn create_policy(
        &mut self,
        name: &str,
        path: Option<&str>,
        doc: &str,
        description: Option<String>,
        now_ms: i64,
    ) -> Result<&ManagedPolicy, IamError> {
        let path = named_at("policyName", name, 128, path)?;
        let doc = PolicyDoc::new(doc)?;
        if self.policies.contains_key(name) {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        let p = ManagedPolicy {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("ANPA"),
            arn: Arn::policy(&self.id, path, name).to_string(),
            description,
            created_ms: now_ms,
            updated_ms: now_ms,
            versions: vec![PolicyVersion {
                id: "v1".into(),
                doc,
                created_ms: now_ms,
            }],
            default_version: "v1".into(),
            versions_made: 1,
        };
        Ok(self.policies.entry(name.to_string()).or_insert(p))
    }

    pub fn delete_policy(&mut self, arn: &str) -> Result<(), IamError> {
        let p = self.own_policy(arn)?;
        let name = p.name.clone();
        if self.attachment_count(arn) > 0 || self.boundary_count(arn) > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        // "You must delete all the policy's versions" first but the default, which goes with
        // it (IAM API reference, DeletePolicy; the words are moto's: UNCONFIRMED).
        if p.versions.len() > 1 {
            return Err(IamError::DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.".into(),
            ));
        }
        self.policies.remove(&name);
        Ok(())
    }

    /// One of the account's own managed policies by ARN: AWS's cannot be changed
    /// (`InvalidInput`, as DeletePolicy answers them; UNCONFIRMED for the version actions).
    pub(super) fn own_policy(&self, arn: &str) -> Result<&ManagedPolicy, IamError> {
        if aws_managed(arn).is_some() {
            return Err(IamError::InvalidInput(format!("ARN {arn} is not valid.")));
        }
        self.policy(arn)
    }

    pub fn attach(&mut self, h: Holder<'_>, arn: &str) -> Result<(), IamError> {
        self.permissions(h)?;
        self.policy(arn)?;
        let p = self.permissions_mut(h)?;
        if !p.attached.iter().any(|a| a == arn) {
            p.attached.push(arn.to_string());
        }
        Ok(())
    }

    pub fn detach(&mut self, h: Holder<'_>, arn: &str) -> Result<(), IamError> {
        let p = self.permissions_mut(h)?;
        let before = p.attached.len();
        p.attached.retain(|a| a != arn);
        if p.attached.len() == before {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {arn} was not found."
            )));
        }
        Ok(())
    }

    pub fn put_inline(&mut self, h: Holder<'_>, name: &str, doc: &str) -> Result<(), IamError> {
        check_name("policyName", name, 128)?;
        let doc = PolicyDoc::new(doc)?;
        self.permissions_mut(h)?
            .inline
            .insert(name.to_string(), doc);
        Ok(())
    }

    pub fn inline(&self, h: Holder<'_>, name: &str) -> Result<&PolicyDoc, IamError> {
        self.permissions(h)?.inline.get(name).ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The {} policy with name {name} cannot be found.",
                h.word()
            ))
        })
    }

    pub fn delete_inline(&mut self, h: Holder<'_>, name: &str) -> Result<(), IamError> {
        self.inline(h, name)?;
        self.permissions_mut(h)?.inline.remove(name);
        Ok(())
    }

    pub fn put_boundary(&mut self, h: Holder<'_>, arn: &str) -> Result<(), IamError> {
        self.permissions(h)?;
        self.policy(arn)
            .map_err(|_| IamError::InvalidInput(format!("ARN {arn} is not valid.")))?;
        self.permissions_mut(h)?.boundary = Some(arn.to_string());
        Ok(())
    }

    pub fn delete_boundary(&mut self, h: Holder<'_>) -> Result<(), IamError> {
        self.permissions_mut(h)?.boundary = None;
        Ok(())
    }

    // ---- instance profiles ----

    pub fn create_profile(
        &mut self,
        name: &str,
        path: Option<&str>,
        now_ms: i64,
    ) -> Result<&InstanceProfile, IamError> {
        let path = named_at("instanceProfileName", name, 128, path)?;
        if self.profiles.contains_key(name) {
            return Err(IamError::EntityAlreadyExists(format!(
                "Instance Profile {name} already exists."
            )));
        }
        let p = InstanceProfile {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("AIPA"),
            arn: Arn::instance_profile(&self.id, path, name).to_string(),
            created_ms: now_ms,
            roles: Vec::new(),
        };
        Ok(self.profiles.entry(name.to_string()).or_insert(p))
    }

    pub fn delete_profile(&mut self, name: &str) -> Result<(), IamError> {
        if !self.profile(name)?.roles.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove roles from instance profile first.".into(),
            ));
        }
        self.profiles.remove(name);
        Ok(())
    }

    pub fn add_role_to_profile(&mut self, profile: &str, role: &str) -> Result<(), IamError> {
        self.role(role)?;
        let p = self
            .profiles
            .get_mut(profile)
            .ok_or_else(|| no_profile(profile))?;
        if p.roles.iter().any(|r| r == role) {
            return Err(IamError::EntityAlreadyExists(format!(
                "Role {role} already exists in instance profile {profile}."
            )));
        }
        if !p.roles.is_empty() {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1".into(),
            ));
        }
        p.roles.push(role.to_string());
        Ok(())
    }

    pub fn remove_role_from_profile(&mut self, profile: &str, role: &str) -> Result<(), IamError> {
        let p = self
            .profiles
            .get_mut(profile)
            .ok_or_else(|| no_profile(profile))?;
        let before = p.roles.len();
        p.roles.retain(|r| r != role);
        if p.roles.len() == before {
            return Err(no_role(role));
        }
        Ok(())
    }

    /// The instance profile an ARN or name designates.
    pub fn profile_by_ref(
        &self,
        arn: Option<&str>,
        name: Option<&str>,
    ) -> Option<&InstanceProfile> {
        match (arn, name) {
            (Some(arn), _) => self.profiles.values().find(|p| p.arn == arn),
            (None, Some(n)) => self.profiles.get(n),
            _ => None,
        }
    }

    // ---- evaluation ----

    /// A holder's own identity policies: its inline ones, then the managed ones attached.
    fn identity(&self, p: &Permissions) -> impl Iterator<Item = Arc<Policy>> + '_ {
        let inline: Vec<Arc<Policy>> = p.inline.values().map(|d| d.parsed.clone()).collect();
        let attached: Vec<Arc<Policy>> = p
            .attached
            .iter()
            .filter_map(|arn| self.policy(arn).ok())
            .filter_map(|m| m.default_doc().map(|d| d.parsed.clone()))
            .collect();
        inline.into_iter().chain(attached)
    }

    pub(super) fn resolve(&self, p: &Permissions) -> PrincipalPolicies {
        PrincipalPolicies {
            identity: self.identity(p).collect(),
            boundary: p
                .boundary
                .as_deref()
                .and_then(|arn| self.policy(arn).ok())
                .and_then(|m| m.default_doc().map(|d| d.parsed.clone())),
        }
    }

    /// The policies that make up a principal's permissions (a deleted user or role has none).
    pub fn policies_of(&self, s: &Subject) -> PrincipalPolicies {
        match s {
            Subject::Root => PrincipalPolicies {
                identity: vec![root_policy()],
                boundary: None,
            },
            // A user's identity policies are its own and its groups' (IAM User Guide, "Policy
            // evaluation logic"); its boundary is its own.
            Subject::User(n) => self
                .users
                .get(n)
                .map(|u| {
                    let mut p = self.resolve(&u.permissions);
                    for g in self.groups_of(n) {
                        p.identity.extend(self.identity(&g.permissions));
                    }
                    p
                })
                .unwrap_or_default(),
            Subject::Role(n) => self
                .roles
                .get(n)
                .map(|r| self.resolve(&r.permissions))
                .unwrap_or_default(),
        }
    }
}
