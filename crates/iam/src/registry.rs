//! The IAM entities of every account (users and their access keys, roles, customer managed
//! policies with their versions, instance profiles, inline policies, attachments,
//! permissions boundaries), and the operations of the IAM API on them.
//!
//! Pure: an operation changes a [`Registry`] or refuses with an [`IamError`] worded as IAM
//! words it. The caller persists what changed ([`Registry::records`] before and after) and then
//! publishes the new registry, so readers (authentication, authorization) never wait on a write.
//! Policy documents are parsed once, when they are written or loaded ([`PolicyDoc`]).

use crate::error::IamError;
use crate::policy::Policy;
use crate::trust::TrustPolicy;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
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

/// What users and roles share: the policies that make up their permissions.
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
    fn check_deletable(&self) -> Result<(), IamError> {
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
}

impl ManagedPolicy {
    pub fn default_doc(&self) -> Option<&PolicyDoc> {
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

/// One account's IAM entities.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AccountIam {
    pub id: String,
    pub users: BTreeMap<String, User>,
    pub roles: BTreeMap<String, Role>,
    /// Customer managed policies by name (names are unique in an account, whatever the path).
    pub policies: BTreeMap<String, ManagedPolicy>,
    pub profiles: BTreeMap<String, InstanceProfile>,
}

/// Who a principal is, for collecting its policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Root,
    User(String),
    Role(String),
}

/// The policies of a principal, parsed.
#[derive(Debug, Clone, Default)]
pub struct PrincipalPolicies {
    pub identity: Vec<Arc<Policy>>,
    pub boundary: Option<Arc<Policy>>,
}

/// Kinds of persisted record.
pub const KIND_USER: &str = "user";
pub const KIND_ROLE: &str = "role";
pub const KIND_POLICY: &str = "policy";
pub const KIND_PROFILE: &str = "instance-profile";

/// A persisted entity: (account, kind, name) → JSON document.
pub type Records = BTreeMap<(String, String, String), String>;

/// Every account's IAM entities, and the index of user access keys.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    accounts: BTreeMap<String, AccountIam>,
    /// Access key id → (account, user name).
    keys: HashMap<String, (String, String)>,
}

/// ISO 8601 time of a millisecond timestamp, to the second, as IAM's responses carry dates
/// (`2026-11-22T17:00:00Z`).
pub fn iso_date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An IAM unique id: a prefix naming the kind and 17 characters (IAM User Guide, "Unique
/// identifiers": AIDA users, AROA roles, ANPA policies, AIPA instance profiles).
pub fn unique_id(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    let tail: String = (0..17)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{tail}")
}

fn new_access_key(now_ms: i64) -> AccessKey {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::thread_rng();
    let id: String = "AKIA"
        .chars()
        .chain((0..16).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char))
        .collect();
    let secret: String = (0..40)
        .map(|_| SECRET[rng.gen_range(0..SECRET.len())] as char)
        .collect();
    AccessKey {
        id,
        secret,
        status: KeyStatus::Active,
        created_ms: now_ms,
    }
}

/// IAM's check of a name member (`[\w+=,.@-]+`, bounded length), worded as its
/// `ValidationError`.
pub fn check_name(member: &str, value: &str, max: usize) -> Result<(), IamError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if value.is_empty() || value.chars().count() > max {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}"
        )));
    }
    if !value.chars().all(ok_char) {
        return Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )));
    }
    Ok(())
}

/// A path: `/`, or `/` + segments + `/`.
pub fn check_path(path: &str) -> Result<(), IamError> {
    let ok = path == "/"
        || (path.starts_with('/')
            && path.ends_with('/')
            && path.len() <= 512
            && path[1..path.len() - 1]
                .chars()
                .all(|c| c.is_ascii_graphic()));
    if ok {
        Ok(())
    } else {
        Err(IamError::ValidationError(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters. Value: {path}"
        )))
    }
}

/// The AWS managed policies imds knows (a few that guardrail tests attach).
pub fn aws_managed(arn: &str) -> Option<&'static ManagedPolicy> {
    aws_managed_all().iter().find(|p| p.arn == arn)
}

fn aws_managed_all() -> &'static [ManagedPolicy] {
    static ALL: std::sync::OnceLock<Vec<ManagedPolicy>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        [
            (
                "AdministratorAccess",
                "ANPAIWMBCKSKIEE64ZLYK",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            ),
            (
                "AmazonEC2FullAccess",
                "ANPAI3VAJF5ZCRZ7MCQE6",
                r#"{"Version":"2012-10-17","Statement":[{"Action":"ec2:*","Effect":"Allow","Resource":"*"},{"Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"*"}]}"#,
            ),
            (
                "AmazonEC2ReadOnlyAccess",
                "ANPAIGDT4SV4GSETWTBZK",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","ec2:GetInstanceMetadataDefaults"],"Resource":"*"}]}"#,
            ),
        ]
        .into_iter()
        .map(|(name, id, doc)| ManagedPolicy {
            name: name.to_string(),
            path: "/".into(),
            id: id.to_string(),
            arn: format!("arn:aws:iam::aws:policy/{name}"),
            description: None,
            created_ms: 1_423_000_000_000,
            updated_ms: 1_423_000_000_000,
            versions: vec![PolicyVersion {
                id: "v1".into(),
                doc: PolicyDoc::new(doc).expect("built-in policy parses"),
                created_ms: 1_423_000_000_000,
            }],
            default_version: "v1".into(),
        })
        .collect()
    })
}

impl Registry {
    /// Rebuild from persisted records; a record that no longer reads is skipped and reported.
    pub fn from_records(records: &Records) -> (Registry, Vec<String>) {
        let mut r = Registry::default();
        let mut problems = Vec::new();
        for ((account, kind, name), doc) in records {
            let a = r.account_mut(account);
            let res = match kind.as_str() {
                KIND_USER => serde_json::from_str(doc).map(|u| {
                    a.users.insert(name.clone(), u);
                }),
                KIND_ROLE => serde_json::from_str(doc).map(|x| {
                    a.roles.insert(name.clone(), x);
                }),
                KIND_POLICY => serde_json::from_str(doc).map(|x| {
                    a.policies.insert(name.clone(), x);
                }),
                KIND_PROFILE => serde_json::from_str(doc).map(|x| {
                    a.profiles.insert(name.clone(), x);
                }),
                other => {
                    problems.push(format!("unknown IAM record kind {other}"));
                    Ok(())
                }
            };
            if let Err(e) = res {
                problems.push(format!("{account} {kind} {name}: {e}"));
            }
        }
        r.reindex();
        (r, problems)
    }

    /// Every entity as a persisted record.
    pub fn records(&self) -> Records {
        let mut out = Records::new();
        for a in self.accounts.values() {
            a.put_records(&mut out);
        }
        out
    }

    /// One account's entities as persisted records (none for an account without entities).
    pub fn account_records(&self, id: &str) -> Records {
        let mut out = Records::new();
        if let Some(a) = self.accounts.get(id) {
            a.put_records(&mut out);
        }
        out
    }

    fn reindex(&mut self) {
        self.keys = self
            .accounts
            .iter()
            .flat_map(|(acct, a)| {
                a.users.values().flat_map(move |u| {
                    u.keys
                        .iter()
                        .map(move |k| (k.id.clone(), (acct.clone(), u.name.clone())))
                })
            })
            .collect();
    }

    pub fn account(&self, id: &str) -> Option<&AccountIam> {
        self.accounts.get(id)
    }

    pub fn account_mut(&mut self, id: &str) -> &mut AccountIam {
        self.accounts
            .entry(id.to_string())
            .or_insert_with(|| AccountIam {
                id: id.to_string(),
                ..Default::default()
            })
    }

    /// Run an operation on one account, then refresh the key index.
    pub fn with_account<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut AccountIam) -> Result<T, IamError>,
    ) -> Result<T, IamError> {
        let out = f(self.account_mut(id))?;
        self.reindex();
        Ok(out)
    }

    /// The user and key of an access key id.
    pub fn access_key(&self, key_id: &str) -> Option<(&User, &AccessKey)> {
        let (acct, user) = self.keys.get(key_id)?;
        let u = self.accounts.get(acct)?.users.get(user)?;
        let k = u.keys.iter().find(|k| k.id == key_id)?;
        Some((u, k))
    }

    /// The policies of `subject` in `account` (an account with no entities: a root still has
    /// its allow-all, anyone else nothing).
    pub fn policies_of(&self, account: &str, subject: &Subject) -> PrincipalPolicies {
        match self.accounts.get(account) {
            Some(a) => a.policies_of(subject),
            None => AccountIam::default().policies_of(subject),
        }
    }

    /// The account of a user access key.
    pub fn key_account(&self, key_id: &str) -> Option<&str> {
        self.keys.get(key_id).map(|(a, _)| a.as_str())
    }
}

fn no_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

fn no_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

fn no_policy(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

fn no_profile(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("Instance Profile {name} cannot be found."))
}

/// Which permissions holder an operation addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    User(&'a str),
    Role(&'a str),
}

impl Holder<'_> {
    fn word(&self) -> &'static str {
        match self {
            Holder::User(_) => "user",
            Holder::Role(_) => "role",
        }
    }
}

impl AccountIam {
    fn put_records(&self, out: &mut Records) {
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
    }

    pub fn user_arn(&self, u: &User) -> String {
        format!("arn:aws:iam::{}:user{}{}", self.id, u.path, u.name)
    }

    pub fn role_arn(&self, r: &Role) -> String {
        format!("arn:aws:iam::{}:role{}{}", self.id, r.path, r.name)
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
        if !arn.starts_with("arn:") || arn.split(':').count() < 6 {
            return Err(IamError::InvalidInput(format!("ARN {arn} is not valid.")));
        }
        if let Some(p) = aws_managed(arn) {
            return Ok(p);
        }
        self.policies
            .values()
            .find(|p| p.arn == arn)
            .ok_or_else(|| no_policy(arn))
    }

    /// How many users and roles a managed policy is attached to.
    pub fn attachment_count(&self, arn: &str) -> usize {
        self.users
            .values()
            .map(|u| &u.permissions)
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
        check_name("userName", name, 64)?;
        let path = path.unwrap_or("/");
        check_path(path)?;
        if self.users.keys().any(|n| n.eq_ignore_ascii_case(name)) {
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
        self.users.remove(name);
        Ok(())
    }

    pub fn create_access_key(&mut self, user: &str, now_ms: i64) -> Result<AccessKey, IamError> {
        let u = self.users.get_mut(user).ok_or_else(|| no_user(user))?;
        if u.keys.len() >= 2 {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for AccessKeysPerUser: 2".into(),
            ));
        }
        let key = new_access_key(now_ms);
        u.keys.push(key.clone());
        Ok(key)
    }

    pub fn delete_access_key(&mut self, user: &str, key_id: &str) -> Result<(), IamError> {
        let u = self.users.get_mut(user).ok_or_else(|| no_user(user))?;
        let before = u.keys.len();
        u.keys.retain(|k| k.id != key_id);
        if u.keys.len() == before {
            return Err(IamError::NoSuchEntity(format!(
                "The Access Key with id {key_id} cannot be found."
            )));
        }
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
        check_name("roleName", name, 64)?;
        let path = path.unwrap_or("/");
        check_path(path)?;
        let max = max_session_duration.unwrap_or(3600);
        if !(3600..=43200).contains(&max) {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{max}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200"
            )));
        }
        let trust = TrustDoc::new(trust)?;
        self.check_principals(&trust)?;
        if self.roles.keys().any(|n| n.eq_ignore_ascii_case(name)) {
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
        let prefix = format!("arn:aws:iam::{}:", self.id);
        for p in trust.parsed.statements.iter().flat_map(|s| s.aws.iter()) {
            let Some(rest) = p.strip_prefix(&prefix) else {
                continue;
            };
            let exists = match rest.split_once('/') {
                Some(("user", n)) => self.users.contains_key(n.rsplit('/').next().unwrap_or(n)),
                Some(("role", n)) => self.roles.contains_key(n.rsplit('/').next().unwrap_or(n)),
                _ => true,
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
        check_name("policyName", name, 128)?;
        let path = path.unwrap_or("/");
        check_path(path)?;
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
            arn: format!("arn:aws:iam::{}:policy{}{}", self.id, path, name),
            description,
            created_ms: now_ms,
            updated_ms: now_ms,
            versions: vec![PolicyVersion {
                id: "v1".into(),
                doc,
                created_ms: now_ms,
            }],
            default_version: "v1".into(),
        };
        Ok(self.policies.entry(name.to_string()).or_insert(p))
    }

    pub fn delete_policy(&mut self, arn: &str) -> Result<(), IamError> {
        if aws_managed(arn).is_some() {
            return Err(IamError::InvalidInput(format!("ARN {arn} is not valid.")));
        }
        let name = self.policy(arn)?.name.clone();
        if self.attachment_count(arn) > 0 || self.boundary_count(arn) > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        self.policies.remove(&name);
        Ok(())
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
        check_name("instanceProfileName", name, 128)?;
        let path = path.unwrap_or("/");
        check_path(path)?;
        if self.profiles.contains_key(name) {
            return Err(IamError::EntityAlreadyExists(format!(
                "Instance Profile {name} already exists."
            )));
        }
        let p = InstanceProfile {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("AIPA"),
            arn: format!("arn:aws:iam::{}:instance-profile{}{}", self.id, path, name),
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

    fn resolve(&self, p: &Permissions) -> PrincipalPolicies {
        let mut identity: Vec<Arc<Policy>> = p.inline.values().map(|d| d.parsed.clone()).collect();
        identity.extend(
            p.attached
                .iter()
                .filter_map(|arn| self.policy(arn).ok())
                .filter_map(|m| m.default_doc().map(|d| d.parsed.clone())),
        );
        PrincipalPolicies {
            identity,
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
            Subject::User(n) => self
                .users
                .get(n)
                .map(|u| self.resolve(&u.permissions))
                .unwrap_or_default(),
            Subject::Role(n) => self
                .roles
                .get(n)
                .map(|r| self.resolve(&r.permissions))
                .unwrap_or_default(),
        }
    }
}

/// The account root may do everything (only SCPs restrict it).
pub fn root_policy() -> Arc<Policy> {
    static ROOT: std::sync::OnceLock<Arc<Policy>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        Arc::new(
            Policy::parse_str(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            )
            .expect("built-in policy parses"),
        )
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#;
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    #[test]
    fn users_keys_and_delete_conflicts() {
        let mut r = Registry::default();
        let key = r
            .with_account("111122223333", |a| {
                a.create_user("alice", None, vec![], 0)?;
                a.put_inline(Holder::User("alice"), "ec2", ALLOW_EC2)?;
                a.create_access_key("alice", 0)
            })
            .unwrap();
        let (u, _) = r.access_key(&key.id).unwrap();
        assert_eq!(u.name, "alice");
        let a = r.account_mut("111122223333");
        assert!(matches!(
            a.create_user("ALICE", None, vec![], 0),
            Err(IamError::EntityAlreadyExists(_))
        ));
        assert!(
            matches!(a.delete_user("alice"), Err(IamError::DeleteConflict(m)) if m.contains("access keys"))
        );
        a.delete_access_key("alice", &key.id).unwrap();
        assert!(
            matches!(a.delete_user("alice"), Err(IamError::DeleteConflict(m)) if m.contains("policies"))
        );
        a.delete_inline(Holder::User("alice"), "ec2").unwrap();
        a.delete_user("alice").unwrap();
        assert!(matches!(a.user("alice"), Err(IamError::NoSuchEntity(_))));
    }

    #[test]
    fn policies_attach_count_and_resolve() {
        let mut r = Registry::default();
        let a = r.account_mut("111122223333");
        let arn = a
            .create_policy("ec2", None, ALLOW_EC2, None, 0)
            .unwrap()
            .arn
            .clone();
        assert_eq!(arn, "arn:aws:iam::111122223333:policy/ec2");
        a.create_role("dev", None, TRUST, None, None, vec![], 0)
            .unwrap();
        a.attach(Holder::Role("dev"), &arn).unwrap();
        a.attach(
            Holder::Role("dev"),
            "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",
        )
        .unwrap();
        assert_eq!(a.attachment_count(&arn), 1);
        assert!(matches!(
            a.delete_policy(&arn),
            Err(IamError::DeleteConflict(_))
        ));
        assert_eq!(
            a.policies_of(&Subject::Role("dev".into())).identity.len(),
            2
        );
        assert!(matches!(
            a.attach(Holder::Role("dev"), "arn:aws:iam::111122223333:policy/nope"),
            Err(IamError::NoSuchEntity(_))
        ));
        assert!(matches!(
            a.create_policy("bad", None, "{not json", None, 0),
            Err(IamError::MalformedPolicyDocument(_))
        ));
    }

    #[test]
    fn records_round_trip() {
        let mut r = Registry::default();
        r.with_account("111122223333", |a| {
            a.create_role("dev", Some("/team/"), TRUST, None, None, vec![], 0)?;
            a.create_profile("web", None, 0)?;
            a.add_role_to_profile("web", "dev")?;
            a.create_user("bob", None, vec![], 0)?;
            a.create_access_key("bob", 0)
        })
        .unwrap();
        let recs = r.records();
        let (back, problems) = Registry::from_records(&recs);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(back.records(), recs);
        let a = back.account("111122223333").unwrap();
        assert_eq!(
            a.role_arn(a.role("dev").unwrap()),
            "arn:aws:iam::111122223333:role/team/dev"
        );
        assert!(matches!(
            a.clone().delete_role("dev"),
            Err(IamError::DeleteConflict(_))
        ));
        assert_eq!(back.keys.len(), 1);
    }

    #[test]
    fn dates_are_utc_to_the_second() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_date(1_763_830_800_999), "2025-11-22T17:00:00Z");
    }

    #[test]
    fn names_are_checked_as_iam_checks_them() {
        assert!(check_name("userName", "a b", 64).is_err());
        assert!(check_name("userName", &"x".repeat(65), 64).is_err());
        assert!(check_name("userName", "dev+ops@x.com", 64).is_ok());
        assert!(check_path("/a/b/").is_ok());
        assert!(check_path("a/").is_err());
    }
}
