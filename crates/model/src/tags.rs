//! Tags: validation as EC2 applies it, and the stricter key rule for tags exposed in the
//! instance metadata (EC2 User Guide, "View tags for your EC2 instances using instance
//! metadata").

use crate::error::Ec2Error;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// EC2 allows up to 50 tags per resource.
pub(crate) const MAX_TAGS: usize = 50;

pub fn validate(tag: &Tag) -> Result<(), Ec2Error> {
    if tag.key.is_empty() {
        return Err(Ec2Error::InvalidParameterValue(
            "Tag key cannot be null or empty".into(),
        ));
    }
    if tag.key.chars().count() > 128 {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Tag key exceeds the maximum length of 128 characters: {}",
            tag.key
        )));
    }
    if tag.value.chars().count() > 256 {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Tag value exceeds the maximum length of 256 characters: {}",
            tag.value
        )));
    }
    if tag.key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "Value ( {} ) for parameter key is invalid. Tag keys starting with 'aws:' are reserved for internal use",
            tag.key
        )));
    }
    Ok(())
}

/// Whether a key may be read through the instance metadata: letters, digits and
/// `+ - = . , _ : @`, and not exactly `.`, `..` or `_index`.
pub(crate) fn is_metadata_safe(key: &str) -> bool {
    !key.is_empty()
        && key != "."
        && key != ".."
        && key != "_index"
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-=.,_:@".contains(c))
}

/// The error when tags in metadata would expose a key that is not metadata-safe, at launch,
/// on ModifyInstanceMetadataOptions and on CreateTags. Code and wording as EC2 answers
/// (quoted from live responses in aws-controllers-k8s/community#1789 and aws/aws-cli#8825;
/// the pattern's backslash is doubled in EC2's own text).
pub(crate) fn metadata_unsafe_error(key: &str) -> Ec2Error {
    Ec2Error::InvalidParameterValue(format!(
        "'{key}' is not a valid tag key. Tag keys must match pattern ([0-9a-zA-Z\\\\-_+=,.@:]{{1,255}}), and must not be a reserved name ('.', '..', '_index')"
    ))
}

/// Set (add or overwrite) tags, as CreateTags does.
pub fn upsert(tags: &mut Vec<Tag>, new: &[Tag]) -> Result<(), Ec2Error> {
    for t in new {
        match tags.iter_mut().find(|x| x.key == t.key) {
            Some(existing) => existing.value = t.value.clone(),
            None => tags.push(t.clone()),
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Ec2Error::InvalidParameterValue(
            "The maximum number of tags on a resource is 50.".into(),
        ));
    }
    Ok(())
}

/// Delete tags as DeleteTags does: a tag with no value deletes the key whatever its value;
/// with a value (even empty), only when the value matches.
pub fn remove(tags: &mut Vec<Tag>, keys: &[(String, Option<String>)]) {
    tags.retain(|t| {
        !keys.iter().any(|(k, v)| {
            *k == t.key
                && match v {
                    None => true,
                    Some(v) => *v == t.value,
                }
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_safe_keys() {
        assert!(is_metadata_safe("Name"));
        assert!(is_metadata_safe("team:owner@x.y,z=+-_"));
        assert!(!is_metadata_safe("has space"));
        assert!(!is_metadata_safe("a/b"));
        assert!(!is_metadata_safe("."));
        assert!(!is_metadata_safe(".."));
        assert!(!is_metadata_safe("_index"));
    }

    #[test]
    fn delete_with_and_without_value() {
        let mut tags = vec![
            Tag {
                key: "a".into(),
                value: "1".into(),
            },
            Tag {
                key: "b".into(),
                value: "2".into(),
            },
        ];
        remove(&mut tags, &[("a".into(), Some("9".into()))]);
        assert_eq!(tags.len(), 2);
        remove(
            &mut tags,
            &[("a".into(), Some("1".into())), ("b".into(), None)],
        );
        assert!(tags.is_empty());
    }

    #[test]
    fn unsafe_key_error_is_ec2s() {
        assert_eq!(
            metadata_unsafe_error("Patch Group").to_string(),
            "'Patch Group' is not a valid tag key. Tag keys must match pattern ([0-9a-zA-Z\\\\-_+=,.@:]{1,255}), and must not be a reserved name ('.', '..', '_index')"
        );
    }

    #[test]
    fn reserved_prefix() {
        assert!(validate(&Tag {
            key: "aws:x".into(),
            value: String::new()
        })
        .is_err());
        assert!(validate(&Tag {
            key: "Name".into(),
            value: "web".into()
        })
        .is_ok());
    }
}
