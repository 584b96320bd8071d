//! Filters of the Describe* actions: names, values, and EC2's wildcard matching.
//!
//! Several values of one filter are ORed, several filters are ANDed; values match exactly,
//! with `*` (any run of characters) and `?` (one character) as wildcards and `\` escaping them.

use crate::error::Ec2Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

/// The DescribeInstances filters imds answers (the EC2 model documents these and more;
/// the ones that do not apply to imds's instances are refused as unknown rather than
/// silently ignored).
pub const INSTANCE_FILTERS: &[&str] = &[
    "instance-id",
    "instance-state-name",
    "instance-state-code",
    "instance-type",
    "image-id",
    "availability-zone",
    "subnet-id",
    "vpc-id",
    "private-ip-address",
    "reservation-id",
    "owner-id",
    "architecture",
    "key-name",
    "iam-instance-profile.arn",
    "client-token",
    "instance-lifecycle",
    "spot-instance-request-id",
    "tag-key",
    "tag-value",
    "metadata-options.http-tokens",
    "metadata-options.http-put-response-hop-limit",
    "metadata-options.http-endpoint",
    "metadata-options.http-protocol-ipv4",
    "metadata-options.http-protocol-ipv6",
    "metadata-options.instance-metadata-tags",
    "metadata-options.state",
];

pub fn invalid_filter(name: &str) -> Ec2Error {
    Ec2Error::InvalidParameterValue(format!("The filter '{name}' is invalid"))
}

/// Check each filter's name against `known` (`tag:KEY` is always known).
pub fn validate(filters: &[Filter], known: &[&str]) -> Result<(), Ec2Error> {
    for f in filters {
        let tag_key = f.name.strip_prefix("tag:").is_some_and(|k| !k.is_empty());
        if !tag_key && !known.contains(&f.name.as_str()) {
            return Err(invalid_filter(&f.name));
        }
    }
    Ok(())
}

/// A compiled value pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
}

pub fn tokens(pattern: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '\\' => match chars.next() {
                Some(n) => Token::Literal(n),
                None => Token::Literal('\\'),
            },
            '*' => Token::AnyRun,
            '?' => Token::AnyOne,
            c => Token::Literal(c),
        });
    }
    out
}

/// The text a pattern without wildcards stands for, its escapes removed (`a\\*b` is `a*b`).
/// A wildcard, should there be one, is kept as `?`.
pub fn literal(pattern: &str) -> String {
    tokens(pattern)
        .iter()
        .map(|t| match t {
            Token::Literal(c) => *c,
            _ => '?',
        })
        .collect()
}

pub fn has_wildcards(pattern: &str) -> bool {
    tokens(pattern)
        .iter()
        .any(|t| !matches!(t, Token::Literal(_)))
}

/// Whether `text` matches `pattern` under EC2's wildcard rules.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p = tokens(pattern);
    let t: Vec<char> = text.chars().collect();
    // Iterative glob match with backtracking to the last `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(Token::Literal(c)) if *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            Some(Token::AnyOne) => {
                pi += 1;
                ti += 1;
            }
            Some(Token::AnyRun) => {
                star = Some((pi, ti));
                pi += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|t| *t == Token::AnyRun)
}

/// Whether a resource with these `(name, value)` attributes passes every filter.
pub fn passes(filters: &[Filter], attributes: &[(String, String)]) -> bool {
    filters.iter().all(|f| {
        attributes
            .iter()
            .filter(|(n, _)| *n == f.name)
            .any(|(_, v)| f.values.iter().any(|p| matches(p, v)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("required", "required"));
        assert!(!matches("required", "optional"));
        assert!(matches("req*", "required"));
        assert!(matches("*", ""));
        assert!(matches("?", "2"));
        assert!(!matches("?", "12"));
        assert!(matches("*ir*d", "required"));
        assert!(matches("a\\*b", "a*b"));
        assert!(!matches("a\\*b", "axb"));
        assert!(matches("web-*-prod", "web-1-2-prod"));
    }

    #[test]
    fn or_within_and_across() {
        let attrs = vec![
            (
                "metadata-options.http-put-response-hop-limit".to_string(),
                "2".to_string(),
            ),
            ("metadata-options.state".to_string(), "applied".to_string()),
        ];
        let f = |n: &str, v: &[&str]| Filter {
            name: n.into(),
            values: v.iter().map(|s| s.to_string()).collect(),
        };
        assert!(passes(
            &[f(
                "metadata-options.http-put-response-hop-limit",
                &["2", "3"]
            )],
            &attrs
        ));
        assert!(!passes(
            &[
                f("metadata-options.http-put-response-hop-limit", &["2"]),
                f("metadata-options.state", &["pending"])
            ],
            &attrs
        ));
        assert!(validate(&[f("metadata-options.bogus", &["x"])], INSTANCE_FILTERS).is_err());
        assert!(validate(&[f("tag:Name", &["x"])], INSTANCE_FILTERS).is_ok());
        assert!(validate(&[f("tag:", &["x"])], INSTANCE_FILTERS).is_err());
    }
}
