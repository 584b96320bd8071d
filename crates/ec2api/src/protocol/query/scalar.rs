//! Scalars as each protocol reads them: EC2's refuses a value not of its type; the plain
//! Query protocol hands such a value on as its text ([`Integer`]).

use crate::protocol::shapes::Scalar;
use model::Ec2Error;
use serde_json::{Number, Value};

/// An integer member as the plain Query protocol hands it on: the number, or the text the
/// caller sent when it is not the number's own spelling (`abc`, `+5`, `0900`), so that the
/// dialect can quote it and read it as it always has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum Integer {
    Number(i64),
    Text(String),
}

impl Integer {
    /// The value as the caller wrote it.
    pub fn text(&self) -> String {
        match self {
            Integer::Number(n) => n.to_string(),
            Integer::Text(t) => t.clone(),
        }
    }
}

/// A scalar of EC2's protocol: refused when it is not of its type.
pub(super) fn ec2_scalar(kind: Scalar, raw: String, name: &str) -> Result<Value, Ec2Error> {
    Ok(match kind {
        Scalar::String | Scalar::Timestamp | Scalar::Blob => Value::String(raw),
        Scalar::Integer => match raw.trim().parse::<i64>() {
            Ok(n) => Value::Number(n.into()),
            Err(_) => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{raw}' for {name}. It must be an integer."
                )))
            }
        },
        Scalar::Float => match raw.trim().parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{raw}' for {name}. It must be a number."
                )))
            }
        },
        Scalar::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{raw}' for {name}. It must be a boolean (true or false)."
                )))
            }
        },
    })
}

/// A scalar of the plain Query protocol: typed when it is the type's own spelling, else its
/// text (see [`Integer`]).
pub(super) fn query_scalar(kind: Scalar, raw: String) -> Value {
    match kind {
        Scalar::Integer => match raw.parse::<i64>() {
            Ok(n) if n.to_string() == raw => Value::Number(n.into()),
            _ => Value::String(raw),
        },
        Scalar::Boolean if raw == "true" || raw == "false" => Value::Bool(raw == "true"),
        _ => Value::String(raw),
    }
}
