//! Ids, names, paths and dates as IAM forms and checks them.

use super::*;
use crate::error::IamError;

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

pub(super) fn new_access_key(now_ms: i64) -> AccessKey {
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
pub(crate) fn check_path(path: &str) -> Result<(), IamError> {
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
