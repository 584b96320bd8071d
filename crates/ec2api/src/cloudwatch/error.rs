//! CloudWatch's errors, in both of its wires (spec wave2.md §1.2–1.3, §1.10): in the Query
//! protocol the plain `<ErrorResponse>` in CloudWatch's namespace; in AWS JSON 1.0 a body
//! `{"__type": "<namespace>#<Shape>", "message": …}` with the header `x-amzn-query-error:
//! <QueryCode>;Sender`, which botocore (the model is `awsQueryCompatible`) reads the error's
//! code from, so that clients see the same codes in both.

use crate::error::AwsError;
use crate::reply::{Reply, AMZ_JSON_1_0};
use model::Ec2Error;

/// The namespace of CloudWatch's modeled errors in JSON `__type`s (LocalStack's recordings
/// against AWS, spec §1.3).
const SHAPES: &str = "com.amazonaws.cloudwatch.v2010_08_01#";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CloudWatchError {
    /// Refused before the action (authentication), coded as Query services code it.
    #[error("{0}")]
    Refused(Ec2Error),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidParameterCombination(String),
    /// A required member missing (the model's `MissingRequiredParameterException`). The
    /// wording is Eucalyptus's (spec §1.10: UNCONFIRMED for AWS).
    #[error("The parameter {0} is required.")]
    MissingParameter(String),
    /// A model constraint, or GetMetricData's own checks (`ValidationError`).
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidNextToken(String),
    #[error("Missing Action")]
    MissingAction,
    /// An action imds's CloudWatch does not serve (Coral's `UnknownOperationException` in
    /// JSON; UNCONFIRMED, spec §1.10).
    #[error("Could not find operation {0} for version 2010-08-01")]
    InvalidAction(String),
    /// A body that is not JSON (AWS JSON 1.0's `SerializationException`).
    #[error("{0}")]
    Serialization(String),
    #[error("Internal service error")]
    Internal,
}

impl CloudWatchError {
    /// The `__type` of the error's JSON body.
    fn json_type(&self) -> String {
        let coral = |s: &str| format!("com.amazon.coral.service#{s}");
        match self {
            CloudWatchError::Refused(e) => coral(match e {
                Ec2Error::Unsigned => "MissingAuthenticationTokenException",
                Ec2Error::AuthFailure => "UnrecognizedClientException",
                Ec2Error::CredentialScope(_) | Ec2Error::SignatureDoesNotMatch => {
                    "InvalidSignatureException"
                }
                Ec2Error::ExpiredToken => "ExpiredTokenException",
                _ => "IncompleteSignatureException",
            }),
            CloudWatchError::AccessDenied(_) => coral("AccessDeniedException"),
            CloudWatchError::InvalidParameterValue(_) => {
                format!("{SHAPES}InvalidParameterValueException")
            }
            CloudWatchError::InvalidParameterCombination(_) => {
                format!("{SHAPES}InvalidParameterCombinationException")
            }
            CloudWatchError::MissingParameter(_) => {
                format!("{SHAPES}MissingRequiredParameterException")
            }
            CloudWatchError::Validation(_) => {
                "com.amazon.coral.validate#ValidationException".into()
            }
            CloudWatchError::InvalidNextToken(_) => format!("{SHAPES}InvalidNextToken"),
            CloudWatchError::MissingAction | CloudWatchError::InvalidAction(_) => {
                coral("UnknownOperationException")
            }
            CloudWatchError::Serialization(_) => coral("SerializationException"),
            CloudWatchError::Internal => format!("{SHAPES}InternalServiceFault"),
        }
    }

    /// The error as AWS JSON 1.0 answers it.
    pub fn render_json(&self, request_id: &str) -> Reply {
        let (code, status) = self.code_and_status();
        let kind = if status >= 500 { "Receiver" } else { "Sender" };
        let body = serde_json::json!({"__type": self.json_type(), "message": self.message()});
        Reply::new(status, AMZ_JSON_1_0, body.to_string())
            .with_header("x-amzn-requestid", request_id.to_string())
            .with_header("x-amzn-query-error", format!("{code};{kind}"))
    }
}

/// The codes of the Query protocol (botocore `cloudwatch`: each modeled error's
/// `error.code`), which the JSON wire carries in `x-amzn-query-error`.
impl AwsError for CloudWatchError {
    fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            CloudWatchError::Refused(e) => crate::query_api::refused_code_and_status(e),
            CloudWatchError::AccessDenied(_) => ("AccessDenied", 403),
            CloudWatchError::InvalidParameterValue(_) => ("InvalidParameterValue", 400),
            CloudWatchError::InvalidParameterCombination(_) => ("InvalidParameterCombination", 400),
            CloudWatchError::MissingParameter(_) => ("MissingParameter", 400),
            CloudWatchError::Validation(_) => ("ValidationError", 400),
            CloudWatchError::InvalidNextToken(_) => ("InvalidNextToken", 400),
            CloudWatchError::MissingAction => ("MissingAction", 400),
            CloudWatchError::InvalidAction(_) => ("InvalidAction", 400),
            CloudWatchError::Serialization(_) => ("SerializationException", 400),
            CloudWatchError::Internal => ("InternalServiceError", 500),
        }
    }

    fn message(&self) -> String {
        match self {
            CloudWatchError::Refused(e) => crate::query_api::refused_message(e),
            e => e.to_string(),
        }
    }

    fn render(&self, request_id: &str) -> Reply {
        crate::query_api::error(super::NAMESPACE, self, request_id)
    }
}

impl From<model::metrics::MetricsError> for CloudWatchError {
    fn from(e: model::metrics::MetricsError) -> CloudWatchError {
        match e.code() {
            "InvalidParameterCombination" => {
                CloudWatchError::InvalidParameterCombination(e.to_string())
            }
            _ => CloudWatchError::InvalidParameterValue(e.to_string()),
        }
    }
}

impl From<iam::IamError> for CloudWatchError {
    fn from(e: iam::IamError) -> CloudWatchError {
        match e {
            iam::IamError::AccessDenied(m) => CloudWatchError::AccessDenied(m),
            other => CloudWatchError::Validation(other.to_string()),
        }
    }
}
