//! CloudWatch's reads of EC2's IMDS metrics on the same endpoint (issue 15; spec wave2.md §1):
//! `GetMetricStatistics`, `GetMetricData` and `ListMetrics` for the `AWS/EC2` metrics
//! `MetadataNoToken` and `MetadataNoTokenRejected`, by `InstanceId` (and over every instance
//! of the account and Region without it), from the minutes the metadata host counts
//! ([`MetricSource`]), under IAM (`cloudwatch:<Action>` on `*`).
//!
//! Both wires clients speak are served, one handler behind them (spec §1.1):
//! - AWS JSON 1.0, which botocore ≥ 1.42.6 (and the aws CLI on it) sends:
//!   `X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, a JSON body keyed by the
//!   model's member names, timestamps as epoch seconds; answers in JSON, errors with
//!   `x-amzn-query-error` ([`error`]);
//! - the Query protocol older clients send: `Version=2010-08-01`, `Name.member.N` lists,
//!   ISO 8601 timestamps; answers in `<…Response xmlns="http://monitoring.amazonaws.com/…">`.
//!
//! A request is read into one typed input per operation (`input`), whichever wire it came
//! on; the operations (`ops`) build their result once, with timestamps in the wire's form.
//! The arithmetic (buckets, statistics, rounding, the window's checks) is the domain's
//! (`model::metrics`). RPC v2 CBOR (which only the Rust SDK speaks) is not served.

mod error;
mod input;
mod ops;

pub use ops::{parse, Request};

use crate::context::Call;
use crate::error::AwsError;
use crate::protocol::query::decode_query;
use crate::protocol::shapes;
use crate::reply::{Reply, AMZ_JSON_1_0};
pub use error::CloudWatchError;
use serde_json::Value;

pub const VERSION: &str = "2010-08-01";
/// The Query protocol's XML namespace (the model's `xmlNamespace`).
pub const NAMESPACE: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// AWS JSON's `X-Amz-Target` prefix (the model's `targetPrefix`).
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";

/// The instances' counted minutes, from wherever the metadata service counts them (the
/// composition root gives the metadata host's).
pub trait MetricSource: Send + Sync {
    /// Every instance with counted minutes, whatever its account and Region.
    fn instance_minutes(&self) -> Vec<model::metrics::InstanceMinutes>;
}

/// No metadata service: no data.
pub struct NoMetrics;

impl MetricSource for NoMetrics {
    fn instance_minutes(&self) -> Vec<model::metrics::InstanceMinutes> {
        Vec::new()
    }
}

/// The wire a request came on, which its answer (and its timestamps) take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Query,
    Json,
}

impl Wire {
    /// A timestamp as the wire writes it: ISO 8601 in the Query protocol, epoch seconds (a
    /// number, `1768475100.0`) in AWS JSON (spec §1.3, case 22).
    fn timestamp(self, ms: i64) -> Value {
        match self {
            Wire::Json => serde_json::json!(ms as f64 / 1000.0),
            Wire::Query => Value::String(model::time::iso8601(ms, false)),
        }
    }
}

/// The operation an AWS JSON request names in its `X-Amz-Target` (`None`: not CloudWatch's).
pub fn json_operation(target: &str) -> Option<&str> {
    target.strip_prefix(TARGET_PREFIX)
}

/// The input of a CloudWatch call as a wire carries it, decoded (not yet checked: see
/// [`parse`]): the Query protocol's parameters along the model, or AWS JSON's body. What the
/// fuzz target feeds [`parse`].
pub fn decode(wire: Wire, action: &str, body: &[u8]) -> Result<Value, CloudWatchError> {
    match wire {
        Wire::Query => {
            let params = crate::protocol::query::Params::parse(body)
                .map_err(|e| CloudWatchError::InvalidParameterValue(e.to_string()))?;
            Ok(decode_query(shapes::cloudwatch(), action, &params))
        }
        Wire::Json if body.iter().all(u8::is_ascii_whitespace) => {
            Ok(Value::Object(Default::default()))
        }
        Wire::Json => serde_json::from_slice::<Value>(body).map_err(|e| {
            CloudWatchError::Serialization(format!("Unable to parse the request: {e}"))
        }),
    }
}

/// One CloudWatch call in the Query protocol.
pub async fn handle_query(call: &Call<'_>) -> Reply {
    let answer = match call.params.get("Action") {
        None => Err(CloudWatchError::MissingAction),
        Some(action) => {
            let decoded = decode_query(shapes::cloudwatch(), action, call.params);
            ops::parse(action, &decoded).and_then(|r| ops::answer(call, r, Wire::Query))
        }
    };
    match answer {
        Ok((action, result)) => crate::query_api::respond(
            shapes::cloudwatch(),
            NAMESPACE,
            action,
            Some(&result),
            call.request_id,
        )
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, action, "CloudWatch result");
            CloudWatchError::Internal.render(call.request_id)
        }),
        Err(e) => e.render(call.request_id),
    }
}

/// One CloudWatch call in AWS JSON 1.0: `operation` from `X-Amz-Target`, the input the body.
pub async fn handle_json(call: &Call<'_>, operation: &str, body: &[u8]) -> Reply {
    let decoded = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(Value::Object(Default::default()))
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| {
            CloudWatchError::Serialization(format!("Unable to parse the request: {e}"))
        })
    };
    let answer = decoded
        .and_then(|v| ops::parse(operation, &v))
        .and_then(|r| ops::answer(call, r, Wire::Json));
    match answer {
        Ok((_, result)) => Reply::ok(AMZ_JSON_1_0, result.to_string())
            .with_header("x-amzn-requestid", call.request_id.to_string()),
        Err(e) => e.render_json(call.request_id),
    }
}

/// A refusal before the action (authentication), on the wire the request came on.
pub fn refused(e: model::Ec2Error, wire: Wire, request_id: &str) -> Reply {
    let e = CloudWatchError::Refused(e);
    match wire {
        Wire::Query => e.render(request_id),
        Wire::Json => e.render_json(request_id),
    }
}
