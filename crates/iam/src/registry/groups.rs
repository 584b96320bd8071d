//! Groups: their users, and their policies, which are each user's (IAM User Guide, "Policy
//! evaluation logic"). A group is not a principal and has no tags.

use super::account::{named_at, no_user, taken};
use super::*;
use crate::error::IamError;
use model::Arn;

pub(super) fn no_group(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
}

impl AccountIam {
    pub fn group_arn(&self, g: &Group) -> String {
        Arn::group(&self.id, &g.path, &g.name).to_string()
    }

    pub fn group(&self, name: &str) -> Result<&Group, IamError> {
        self.groups.get(name).ok_or_else(|| no_group(name))
    }

    /// The groups `user` is in, in the order of their names.
    pub fn groups_of<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups
            .values()
            .filter(move |g| g.users.iter().any(|u| u == user))
    }

    pub fn create_group(
        &mut self,
        name: &str,
        path: Option<&str>,
        now_ms: i64,
    ) -> Result<&Group, IamError> {
        let path = named_at("groupName", name, 128, path)?;
        if taken(&self.groups, name) {
            return Err(IamError::EntityAlreadyExists(format!(
                "Group with name {name} already exists."
            )));
        }
        let group = Group {
            name: name.to_string(),
            path: path.to_string(),
            id: unique_id("AGPA"),
            created_ms: now_ms,
            permissions: Permissions::default(),
            users: Vec::new(),
        };
        Ok(self.groups.entry(name.to_string()).or_insert(group))
    }

    /// A group can be deleted once it has no users and no policies (DeleteConflict).
    pub fn delete_group(&mut self, name: &str) -> Result<(), IamError> {
        let g = self.group(name)?;
        if !g.users.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must remove users from group first.".into(),
            ));
        }
        g.permissions.check_deletable()?;
        self.groups.remove(name);
        Ok(())
    }

    /// Adding a user already in the group changes nothing and is no error (UNCONFIRMED).
    pub fn add_user_to_group(&mut self, group: &str, user: &str) -> Result<(), IamError> {
        self.user(user)?;
        let g = self.groups.get_mut(group).ok_or_else(|| no_group(group))?;
        if !g.users.iter().any(|u| u == user) {
            g.users.push(user.to_string());
        }
        Ok(())
    }

    /// A user not in the group is `NoSuchEntity`, in the words of an unknown user
    /// (UNCONFIRMED).
    pub fn remove_user_from_group(&mut self, group: &str, user: &str) -> Result<(), IamError> {
        self.user(user)?;
        let g = self.groups.get_mut(group).ok_or_else(|| no_group(group))?;
        let before = g.users.len();
        g.users.retain(|u| u != user);
        if g.users.len() == before {
            return Err(no_user(user));
        }
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

    /// A group's policies (SimulatePrincipalPolicy on a group's ARN).
    pub fn group_policies(&self, name: &str) -> Result<PrincipalPolicies, IamError> {
        Ok(self.resolve(&self.group(name)?.permissions))
    }
}
