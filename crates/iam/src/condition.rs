//! Condition operators, as IAM evaluates them (IAM User Guide, "IAM JSON policy elements:
//! Condition operators"; spec iam.md §4.3).
//!
//! A condition block is the AND of its operators, an operator the AND of its keys, a key the
//! OR of its listed values; negated operators are true iff the request value matches none. An
//! absent key makes positive operators false and negated ones true, except `…IfExists`
//! (absent: true) and `Null`. Key names are case-insensitive.

use crate::glob;
use crate::policy::{strings, PolicyError};
use serde_json::Value;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

impl Op {
    fn parse(name: &str) -> Option<Op> {
        use Op::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        use Op::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }

    /// The positive form of a negated operator.
    fn positive(self) -> Op {
        use Op::*;
        match self {
            StringNotEquals => StringEquals,
            StringNotEqualsIgnoreCase => StringEqualsIgnoreCase,
            StringNotLike => StringLike,
            NumericNotEquals => NumericEquals,
            DateNotEquals => DateEquals,
            NotIpAddress => IpAddress,
            ArnNotEquals => ArnEquals,
            ArnNotLike => ArnLike,
            other => other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub op: Op,
    pub set: SetQualifier,
    pub if_exists: bool,
    /// As written in the policy (matched case-insensitively).
    pub key: String,
    pub values: Vec<String>,
}

/// The request context: key (matched in any case, kept as first written) → values.
///
/// A short list searched case-insensitively: a request carries a few dozen keys at most, and
/// a scan with `eq_ignore_ascii_case` costs less than lowercasing (allocating) the key of
/// every condition on every evaluation.
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: Vec<(String, Vec<String>)>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }
    pub fn set(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        match self
            .values
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some(slot) => *slot = (key.to_string(), values),
            None => self.values.push((key.to_string(), values)),
        }
        self
    }
    pub fn with(mut self, key: &str, value: &str) -> Context {
        self.set(key, vec![value.to_string()]);
        self
    }
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }
    /// Keys as written, with their values.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.values.iter().map(|(k, v)| (k, v))
    }
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn date(s: &str) -> Option<i64> {
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t.unix_timestamp());
    }
    if let Ok(d) = time::Date::parse(
        s,
        &time::macros::format_description!("[year]-[month]-[day]"),
    ) {
        return Some(d.midnight().assume_utc().unix_timestamp());
    }
    s.trim().parse::<i64>().ok()
}

fn cidr_contains(cidr: &str, ip: &str) -> bool {
    let Ok(ip) = ip.trim().parse::<IpAddr>() else {
        return false;
    };
    let (net, len) = match cidr.split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.trim().parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let len = len.unwrap_or(32).min(32);
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let len = len.unwrap_or(128).min(128);
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Whether one request value matches one policy value under a positive operator.
fn matches(op: Op, policy: &str, request: &str) -> bool {
    use Op::*;
    let num = || number(policy).zip(number(request));
    let dates = || date(policy).zip(date(request));
    match op {
        StringEquals => policy == request,
        StringEqualsIgnoreCase => policy.to_lowercase() == request.to_lowercase(),
        StringLike => glob::matches(policy, request, false),
        NumericEquals => num().is_some_and(|(p, r)| r == p),
        NumericLessThan => num().is_some_and(|(p, r)| r < p),
        NumericLessThanEquals => num().is_some_and(|(p, r)| r <= p),
        NumericGreaterThan => num().is_some_and(|(p, r)| r > p),
        NumericGreaterThanEquals => num().is_some_and(|(p, r)| r >= p),
        DateEquals => dates().is_some_and(|(p, r)| r == p),
        DateLessThan => dates().is_some_and(|(p, r)| r < p),
        DateLessThanEquals => dates().is_some_and(|(p, r)| r <= p),
        DateGreaterThan => dates().is_some_and(|(p, r)| r > p),
        DateGreaterThanEquals => dates().is_some_and(|(p, r)| r >= p),
        Bool => policy.eq_ignore_ascii_case(request),
        IpAddress => cidr_contains(policy, request),
        ArnEquals | ArnLike => glob::arn_matches(policy, request),
        _ => false,
    }
}

impl Condition {
    /// Parse a `Condition` block.
    pub(crate) fn parse_block(block: &Value) -> Result<Vec<Condition>, PolicyError> {
        let ops = block
            .as_object()
            .ok_or_else(|| PolicyError("Condition must be an object".into()))?;
        let mut out = Vec::new();
        for (name, keys) in ops {
            let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
                (SetQualifier::ForAnyValue, r)
            } else if let Some(r) = name.strip_prefix("ForAllValues:") {
                (SetQualifier::ForAllValues, r)
            } else {
                (SetQualifier::Single, name.as_str())
            };
            let (base, if_exists) = match rest.strip_suffix("IfExists") {
                Some(b) if b != "Null" => (b, true),
                _ => (rest, false),
            };
            let op = Op::parse(base)
                .ok_or_else(|| PolicyError(format!("Invalid Condition type : {name}")))?;
            let keys = keys
                .as_object()
                .ok_or_else(|| PolicyError(format!("{name} must map keys to values")))?;
            for (key, values) in keys {
                out.push(Condition {
                    op,
                    set,
                    if_exists,
                    key: key.clone(),
                    values: strings(values, key)?,
                });
            }
        }
        Ok(out)
    }

    /// Evaluate against the request context; `${…}` policy variables in values are resolved
    /// from the context first.
    pub fn holds(&self, ctx: &Context) -> bool {
        self.holds_with(ctx, true)
    }

    /// [`Condition::holds`], with policy variables resolved only when `variables` (a
    /// statement of a 2012-10-17 document); otherwise values are literal.
    pub(crate) fn holds_with(&self, ctx: &Context, variables: bool) -> bool {
        let present = ctx.get(&self.key).filter(|v| !v.is_empty());
        if self.op == Op::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return present.is_none() == want_absent;
        }
        let values: Vec<std::borrow::Cow<'_, str>> = self
            .values
            .iter()
            .map(|v| {
                if variables {
                    substitute(v, ctx)
                } else {
                    v.as_str().into()
                }
            })
            .collect();
        let Some(request) = present else {
            return match self.set {
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => false,
                SetQualifier::Single => self.if_exists || self.op.negated(),
            };
        };
        let positive = self.op.positive();
        let matches_any = |r: &String| values.iter().any(|p| matches(positive, p, r));
        // With a set qualifier, a negated operator applies to each request value
        // (`ForAnyValue:StringNotEquals`: some value equals none of the policy's; IAM User
        // Guide, "Set operators for multivalued context keys"); without one, it is true iff
        // no request value matches.
        let negated = self.op.negated();
        let each = |r: &String| matches_any(r) != negated;
        match self.set {
            SetQualifier::ForAllValues => request.iter().all(each),
            SetQualifier::ForAnyValue => request.iter().any(each),
            SetQualifier::Single => request.iter().any(matches_any) != negated,
        }
    }
}

/// Resolve `${key}` policy variables (and `${*}`, `${?}`, `${$}`) from the context; an
/// unresolvable variable leaves the value unmatchable.
pub(crate) fn substitute<'v>(value: &'v str, ctx: &Context) -> std::borrow::Cow<'v, str> {
    if !value.contains("${") {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return std::borrow::Cow::Owned(out);
        };
        let name = &after[..end];
        match name {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            key => match ctx.get(key).and_then(|v| v.first()) {
                Some(v) => out.push_str(v),
                None => out.push('\u{0}'),
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}
