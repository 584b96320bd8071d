//! The IAM entities of every account (users and their access keys, groups, roles, customer managed
//! policies with their versions, instance profiles, inline policies, attachments,
//! permissions boundaries), and the operations of the IAM API on them.
//!
//! Pure: an operation changes a [`Registry`] or refuses with an [`IamError`] worded as IAM
//! words it. The caller persists what changed ([`Registry::records`] before and after) and then
//! publishes the new registry, so readers (authentication, authorization) never wait on a write.
//! Policy documents are parsed once, when they are written or loaded ([`PolicyDoc`]).
//!
//! - `entities`: what IAM stores: users, access keys, groups, roles, managed policies and their
//!   versions, instance profiles, policy documents parsed once.
//! - `account`: one account's entities and the IAM API's operations on them (users, roles,
//!   managed and inline policies, instance profiles; evaluation's view of them);
//! - `groups`: groups, their users and their policies;
//! - `versions`: the versions of a managed policy;
//! - `tags`: the tags of users and roles.
//! - `naming`: ids, names, paths and dates as IAM forms and checks them.
//! - `managed`: the AWS managed policies imds knows.

mod account;
mod entities;
mod groups;
mod managed;
mod naming;
mod tags;
mod versions;

pub use account::*;
pub use entities::*;
pub(crate) use managed::*;
pub use naming::*;
pub use tags::*;
pub use versions::*;

use crate::error::IamError;
use crate::policy::Policy;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

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
pub(crate) const KIND_USER: &str = "user";
pub(crate) const KIND_ROLE: &str = "role";
pub(crate) const KIND_POLICY: &str = "policy";
pub(crate) const KIND_PROFILE: &str = "instance-profile";
pub(crate) const KIND_GROUP: &str = "group";

/// A persisted entity: (account, kind, name) → JSON document.
pub type Records = BTreeMap<(String, String, String), String>;

/// Every account's IAM entities, and the index of user access keys.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    accounts: BTreeMap<String, AccountIam>,
    /// Access key id → (account, user name).
    keys: HashMap<String, (String, String)>,
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
                KIND_GROUP => serde_json::from_str(doc).map(|x| {
                    a.groups.insert(name.clone(), x);
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

    pub(crate) fn account_mut(&mut self, id: &str) -> &mut AccountIam {
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

/// The account root may do everything (only SCPs restrict it).
pub(crate) fn root_policy() -> Arc<Policy> {
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

    /// A user's identity policies are its own and those of each group it is in, for as long
    /// as it is in it (IAM User Guide, "Policy evaluation logic"); a group with users or
    /// policies, and a user in a group, cannot be deleted (DeleteConflict).
    #[test]
    fn a_groups_policies_are_its_users_while_they_are_in_it() {
        let mut r = Registry::default();
        let a = r.account_mut("111122223333");
        let arn = a
            .create_policy("ec2", None, ALLOW_EC2, None, 0)
            .unwrap()
            .arn
            .clone();
        a.create_user("alice", None, vec![], 0).unwrap();
        let g = a.create_group("ops", Some("/team/"), 0).unwrap();
        assert!(g.id.starts_with("AGPA"));
        assert_eq!(
            a.group_arn(a.group("ops").unwrap()),
            "arn:aws:iam::111122223333:group/team/ops"
        );
        assert!(matches!(
            a.create_group("OPS", None, 0),
            Err(IamError::EntityAlreadyExists(_))
        ));
        a.put_inline(Holder::Group("ops"), "inline", ALLOW_EC2)
            .unwrap();
        a.attach(Holder::Group("ops"), &arn).unwrap();
        assert_eq!(a.attachment_count(&arn), 1);
        let alice = Subject::User("alice".into());
        assert_eq!(a.policies_of(&alice).identity.len(), 0);
        a.add_user_to_group("ops", "alice").unwrap();
        a.add_user_to_group("ops", "alice").unwrap();
        assert_eq!(a.group("ops").unwrap().users, vec!["alice".to_string()]);
        assert_eq!(a.policies_of(&alice).identity.len(), 2);
        assert_eq!(a.group_policies("ops").unwrap().identity.len(), 2);
        assert!(matches!(
            a.add_user_to_group("ops", "bob"),
            Err(IamError::NoSuchEntity(m)) if m.contains("user with name bob")
        ));
        assert!(matches!(
            a.add_user_to_group("devs", "alice"),
            Err(IamError::NoSuchEntity(m)) if m.contains("group with name devs")
        ));
        assert!(
            matches!(a.delete_user("alice"), Err(IamError::DeleteConflict(m)) if m.contains("remove users from group"))
        );
        assert!(
            matches!(a.delete_group("ops"), Err(IamError::DeleteConflict(m)) if m.contains("remove users from group"))
        );
        a.remove_user_from_group("ops", "alice").unwrap();
        assert!(matches!(
            a.remove_user_from_group("ops", "alice"),
            Err(IamError::NoSuchEntity(_))
        ));
        assert_eq!(a.policies_of(&alice).identity.len(), 0);
        assert!(
            matches!(a.delete_group("ops"), Err(IamError::DeleteConflict(m)) if m.contains("policies"))
        );
        a.delete_inline(Holder::Group("ops"), "inline").unwrap();
        a.detach(Holder::Group("ops"), &arn).unwrap();
        a.delete_group("ops").unwrap();
        a.delete_user("alice").unwrap();
        assert!(matches!(a.group("ops"), Err(IamError::NoSuchEntity(_))));
    }

    /// Up to five versions; the default one is what evaluation reads, and cannot be deleted;
    /// ids are never reused; a policy goes only with its default version left (IAM API
    /// reference: CreatePolicyVersion, DeletePolicyVersion, DeletePolicy).
    #[test]
    fn policy_versions_and_their_default() {
        const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
        let mut r = Registry::default();
        let a = r.account_mut("111122223333");
        let arn = a
            .create_policy("p", None, ALLOW_EC2, None, 0)
            .unwrap()
            .arn
            .clone();
        a.create_role("dev", None, TRUST, None, None, vec![], 0)
            .unwrap();
        a.attach(Holder::Role("dev"), &arn).unwrap();
        let effect = |a: &AccountIam| {
            let p = a.policies_of(&Subject::Role("dev".into()));
            format!("{:?}", p.identity[0].statements[0].effect)
        };
        assert_eq!(effect(a), "Allow");
        let v2 = a.create_policy_version(&arn, DENY_ALL, false, 5).unwrap();
        assert_eq!(v2.id, "v2");
        assert_eq!(effect(a), "Allow");
        a.set_default_policy_version(&arn, "v2", 6).unwrap();
        assert_eq!(effect(a), "Deny");
        assert_eq!(a.policy(&arn).unwrap().updated_ms, 6);
        for n in 3..=5 {
            let v = a.create_policy_version(&arn, ALLOW_EC2, n == 5, n).unwrap();
            assert_eq!(v.id, format!("v{n}"));
        }
        assert_eq!(effect(a), "Allow");
        assert!(matches!(
            a.create_policy_version(&arn, ALLOW_EC2, false, 9),
            Err(IamError::LimitExceeded(m)) if m.starts_with("A managed policy can have up to 5 versions.")
        ));
        assert!(matches!(
            a.delete_policy_version(&arn, "v5"),
            Err(IamError::DeleteConflict(_))
        ));
        assert!(matches!(
            a.delete_policy_version(&arn, "v9"),
            Err(IamError::NoSuchEntity(_))
        ));
        a.delete_policy_version(&arn, "v4").unwrap();
        assert_eq!(
            a.create_policy_version(&arn, ALLOW_EC2, false, 10)
                .unwrap()
                .id,
            "v6"
        );
        assert!(matches!(
            a.create_policy_version(&arn, "{not json", false, 10),
            Err(IamError::MalformedPolicyDocument(_))
        ));
        assert!(matches!(
            a.create_policy_version(
                "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess",
                ALLOW_EC2,
                false,
                10
            ),
            Err(IamError::InvalidInput(_))
        ));
        a.detach(Holder::Role("dev"), &arn).unwrap();
        assert!(
            matches!(a.delete_policy(&arn), Err(IamError::DeleteConflict(m)) if m.contains("more than one version"))
        );
        for v in ["v1", "v2", "v3", "v6"] {
            a.delete_policy_version(&arn, v).unwrap();
        }
        a.delete_policy(&arn).unwrap();
    }

    /// Tags: a key of any case is the same key, the request is all or nothing, at most 50,
    /// the model's constraints; on create as on TagUser (IAM API reference, TagUser; IAM User
    /// Guide, "Tagging IAM resources").
    #[test]
    fn tags_of_users_and_roles() {
        let tag = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        let mut r = Registry::default();
        let a = r.account_mut("111122223333");
        a.create_user("alice", None, vec![tag("Team", "blue")], 0)
            .unwrap();
        a.tag(
            Tagged::User("alice"),
            vec![tag("team", "red"), tag("env", "")],
        )
        .unwrap();
        assert_eq!(
            a.tags(Tagged::User("alice")).unwrap(),
            &[tag("team", "red"), tag("env", "")]
        );
        for bad in [
            tag("", "x"),
            tag("a#b", "x"),
            tag("ok", "\n"),
            tag(&"k".repeat(129), ""),
        ] {
            assert!(
                matches!(
                    a.tag(Tagged::User("alice"), vec![tag("new", "x"), bad.clone()]),
                    Err(IamError::ValidationError(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(a.tags(Tagged::User("alice")).unwrap().len(), 2);
        a.tag(Tagged::User("alice"), vec![tag("日本 語_.:/=+-@", "ü 1")])
            .unwrap();
        let many: Vec<Tag> = (0..48).map(|n| tag(&format!("k{n}"), "v")).collect();
        assert!(matches!(
            a.tag(Tagged::User("alice"), many),
            Err(IamError::LimitExceeded(m)) if m == "Cannot exceed quota for TagsPerUser: 50"
        ));
        a.untag(Tagged::User("alice"), &["TEAM".into(), "absent".into()])
            .unwrap();
        assert_eq!(a.tags(Tagged::User("alice")).unwrap().len(), 2);
        assert!(matches!(
            a.create_role("r", None, TRUST, None, None, vec![tag("a#", "")], 0),
            Err(IamError::ValidationError(_))
        ));
        assert!(matches!(
            a.tag(Tagged::Role("nope"), vec![]),
            Err(IamError::NoSuchEntity(_))
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
            a.create_group("ops", None, 0)?;
            a.add_user_to_group("ops", "bob")?;
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
        assert_eq!(a.group("ops").unwrap().users, vec!["bob".to_string()]);
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
