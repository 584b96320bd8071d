//! The tags of users and roles (`aws:PrincipalTag`, `iam:ResourceTag`): checked against the
//! model's `Tag`, merged whatever a key's case, at most fifty.

use super::account::{no_role, no_user};
use super::*;
use crate::error::IamError;

/// Which tagged entity an operation addresses (IAM's groups have no tags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagged<'a> {
    User(&'a str),
    Role(&'a str),
}

/// At most this many tags on a user or a role (IAM User Guide, "IAM and AWS STS quotas":
/// tags per user, tags per role).
pub const MAX_TAGS: usize = 50;

/// Whether `c` is of the tag pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]` (IAM API reference, `Tag`).
pub fn tag_char(c: char) -> bool {
    let space = matches!(
        c,
        ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    );
    c.is_alphanumeric() || space || "_.:/=+-@".contains(c)
}

/// Tags checked against the model's constraints (`Tag`: a key of 1 to 128 characters, a
/// value of at most 256, both of the tag pattern), in the words of AWS's validation (the
/// member's path is UNCONFIRMED).
pub fn check_tags(tags: &[Tag]) -> Result<(), IamError> {
    let invalid = |v: &str, at: &str, rule: &str| {
        IamError::ValidationError(format!(
            "1 validation error detected: Value '{v}' at '{at}' failed to satisfy constraint: Member must {rule}"
        ))
    };
    const PATTERN: &str = r"satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]";
    for (n, t) in tags.iter().enumerate() {
        let at = |m: &str| format!("tags.{}.member.{m}", n + 1);
        let (k, v) = (t.key.chars().count(), t.value.chars().count());
        if k == 0 || k > 128 {
            return Err(invalid(&t.key, &at("key"), "have length between 1 and 128"));
        }
        if !t.key.chars().all(tag_char) {
            return Err(invalid(&t.key, &at("key"), &format!("{PATTERN}+")));
        }
        if v > 256 {
            return Err(invalid(
                &t.value,
                &at("value"),
                "have length less than or equal to 256",
            ));
        }
        if !t.value.chars().all(tag_char) {
            return Err(invalid(&t.value, &at("value"), &format!("{PATTERN}*")));
        }
    }
    Ok(())
}

/// `tags` with `new` put in: a key already there (whatever its case: IAM's tag keys of users
/// and roles "are not case sensitive, but case is preserved", IAM User Guide, "Tagging IAM
/// resources") takes the new value and spelling (UNCONFIRMED: which spelling stays). At most
/// [`MAX_TAGS`] (`LimitExceeded`, UNCONFIRMED words).
fn merge_tags(tags: &mut Vec<Tag>, new: Vec<Tag>, quota: &str) -> Result<(), IamError> {
    check_tags(&new)?;
    let mut merged = tags.clone();
    for t in new {
        match merged
            .iter_mut()
            .find(|x| x.key.eq_ignore_ascii_case(&t.key))
        {
            Some(x) => *x = t,
            None => merged.push(t),
        }
    }
    if merged.len() > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for {quota}: {MAX_TAGS}"
        )));
    }
    *tags = merged;
    Ok(())
}

/// The tags a new user or role is created with, checked and merged as TagUser would.
pub(super) fn new_tags(given: Vec<Tag>, quota: &str) -> Result<Vec<Tag>, IamError> {
    let mut tags = Vec::new();
    merge_tags(&mut tags, given, quota)?;
    Ok(tags)
}

impl AccountIam {
    fn tags_mut(&mut self, t: Tagged<'_>) -> Result<(&mut Vec<Tag>, &'static str), IamError> {
        match t {
            Tagged::User(n) => self
                .users
                .get_mut(n)
                .map(|u| (&mut u.tags, "TagsPerUser"))
                .ok_or_else(|| no_user(n)),
            Tagged::Role(n) => self
                .roles
                .get_mut(n)
                .map(|r| (&mut r.tags, "TagsPerRole"))
                .ok_or_else(|| no_role(n)),
        }
    }

    /// A user's or a role's tags.
    pub fn tags(&self, t: Tagged<'_>) -> Result<&[Tag], IamError> {
        match t {
            Tagged::User(n) => self.user(n).map(|u| u.tags.as_slice()),
            Tagged::Role(n) => self.role(n).map(|r| r.tags.as_slice()),
        }
    }

    /// TagUser, TagRole: all the tags or none (IAM API reference: "If any one of the tags is
    /// invalid or if you exceed the allowed maximum number of tags, then the entire request
    /// fails").
    pub fn tag(&mut self, t: Tagged<'_>, new: Vec<Tag>) -> Result<(), IamError> {
        let (tags, quota) = self.tags_mut(t)?;
        merge_tags(tags, new, quota)
    }

    /// UntagUser, UntagRole: keys the entity does not have are no error (UNCONFIRMED).
    pub fn untag(&mut self, t: Tagged<'_>, keys: &[String]) -> Result<(), IamError> {
        let (tags, _) = self.tags_mut(t)?;
        tags.retain(|x| !keys.iter().any(|k| k.eq_ignore_ascii_case(&x.key)));
        Ok(())
    }
}
