//! The typed inputs of CloudWatch's three reads, one per operation, read by serde from either
//! wire: the Query protocol decoded along the model (`decode_query`: timestamps as ISO 8601
//! text, integers as numbers where written as such, booleans as booleans) or AWS JSON's body
//! (timestamps as epoch seconds). Field names are the model's members (checked against it by
//! a test). Required members are `Option`s: the operations report the first missing one in
//! the model's order, as CloudWatch does.

use super::CloudWatchError;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A timestamp, in milliseconds since the epoch: ISO 8601 text (`2026-01-15T11:00:00Z`, with
/// or without fractional seconds or an offset) or a number of seconds (botocore sends integers;
/// fractions are accepted, spec §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub i64);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_f64()
                .filter(|s| s.is_finite() && s.abs() < 1e13)
                .map(|s| Time((s * 1000.0).floor() as i64))
                .ok_or_else(|| D::Error::custom(format!("{n} is not a timestamp"))),
            Value::String(s) => parse_iso(&s)
                .map(Time)
                .ok_or_else(|| D::Error::custom(format!("'{s}' is not an ISO 8601 timestamp"))),
            other => Err(D::Error::custom(format!("{other} is not a timestamp"))),
        }
    }
}

fn parse_iso(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// An integer, written as a number or as its digits (the Query decoder hands on as text an
/// integer it cannot read, for the operation to refuse in its own words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Num {
    Int(i64),
    Text(String),
}

impl Num {
    /// The value, or `InvalidParameterValue` naming `member`.
    pub fn get(&self, member: &str) -> Result<i64, CloudWatchError> {
        match self {
            Num::Int(n) => Ok(*n),
            Num::Text(t) => t.trim().parse().map_err(|_| {
                CloudWatchError::InvalidParameterValue(format!(
                    "The parameter {member} must be an integer; '{t}' is not."
                ))
            }),
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Num::Int(i),
                None => Num::Text(n.to_string()),
            },
            Value::String(s) => Num::Text(s),
            other => Num::Text(other.to_string()),
        })
    }
}

/// A list that botocore's Query serializer sends empty as `Name=` (spec §1.2): its empty
/// strings are no items.
fn items<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v: Option<Vec<Option<String>>> = Option::deserialize(d)?;
    Ok(v.map(|v| v.into_iter().flatten().filter(|s| !s.is_empty()).collect()))
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionIn {
    pub name: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricStatisticsIn {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Option<Vec<DimensionIn>>,
    pub start_time: Option<Time>,
    pub end_time: Option<Time>,
    pub period: Option<Num>,
    #[serde(default, deserialize_with = "items")]
    pub statistics: Option<Vec<String>>,
    #[serde(default, deserialize_with = "items")]
    pub extended_statistics: Option<Vec<String>>,
    pub unit: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricIn {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Option<Vec<DimensionIn>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStatIn {
    pub metric: Option<MetricIn>,
    pub period: Option<Num>,
    pub stat: Option<String>,
    pub unit: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataQueryIn {
    pub id: Option<String>,
    pub metric_stat: Option<MetricStatIn>,
    pub expression: Option<String>,
    pub label: Option<String>,
    pub return_data: Option<bool>,
    /// Taken, not used: the period of an `Expression`, which imds does not evaluate.
    #[allow(dead_code)]
    pub period: Option<Num>,
    /// Taken, not used: imds has no cross-account observability (no linked accounts).
    #[allow(dead_code)]
    pub account_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricDataIn {
    pub metric_data_queries: Option<Vec<MetricDataQueryIn>>,
    pub start_time: Option<Time>,
    pub end_time: Option<Time>,
    pub next_token: Option<String>,
    pub scan_by: Option<String>,
    /// Taken, not used: imds answers every datapoint in one page.
    #[allow(dead_code)]
    pub max_datapoints: Option<Num>,
    /// Taken, not used: labels have no dynamic parts in imds, so no time zone to render.
    #[allow(dead_code)]
    pub label_options: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMetricsIn {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    pub dimensions: Option<Vec<DimensionIn>>,
    pub next_token: Option<String>,
    pub recently_active: Option<String>,
    /// Taken, not used: imds has no linked (monitoring) accounts.
    #[allow(dead_code)]
    pub include_linked_accounts: Option<bool>,
    #[allow(dead_code)]
    pub owning_account: Option<String>,
}

/// The typed input of a decoded request; what serde refuses (a member of the wrong type, a
/// timestamp that is none) is `InvalidParameterValue` with serde's words.
pub fn input<T: serde::de::DeserializeOwned>(decoded: &Value) -> Result<T, CloudWatchError> {
    T::deserialize(decoded).map_err(|e| CloudWatchError::InvalidParameterValue(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::shapes::{self, assert_members, serde_fields};

    #[test]
    fn typed_inputs_follow_the_model() {
        let m = shapes::cloudwatch();
        assert_members(
            m,
            "GetMetricStatisticsInput",
            &serde_fields::<GetMetricStatisticsIn>(),
        );
        assert_members(m, "GetMetricDataInput", &serde_fields::<GetMetricDataIn>());
        assert_members(m, "MetricDataQuery", &serde_fields::<MetricDataQueryIn>());
        assert_members(m, "MetricStat", &serde_fields::<MetricStatIn>());
        assert_members(m, "Metric", &serde_fields::<MetricIn>());
        assert_members(m, "ListMetricsInput", &serde_fields::<ListMetricsIn>());
        assert_members(m, "DimensionFilter", &serde_fields::<DimensionIn>());
    }

    #[test]
    fn timestamps_from_either_wire() {
        let t = |v: Value| serde_json::from_value::<Time>(v).ok();
        let at = Some(Time(1_768_474_800_000));
        assert_eq!(t(serde_json::json!(1_768_474_800)), at);
        assert_eq!(t(serde_json::json!(1_768_474_800.0)), at);
        assert_eq!(t(serde_json::json!("2026-01-15T11:00:00Z")), at);
        assert_eq!(t(serde_json::json!("2026-01-15T11:00:00.000000Z")), at);
        assert_eq!(t(serde_json::json!("2026-01-15T12:00:00+01:00")), at);
        assert_eq!(t(serde_json::json!("yesterday")), None);
        assert_eq!(t(serde_json::json!(true)), None);
    }

    #[test]
    fn an_empty_list_is_no_items() {
        let i: GetMetricStatisticsIn =
            serde_json::from_value(serde_json::json!({"Statistics": [""]})).unwrap();
        assert_eq!(i.statistics, Some(vec![]));
    }
}
