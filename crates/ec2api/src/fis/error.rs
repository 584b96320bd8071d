//! FIS's errors as rest-json answers them (spec events.md §7.1–7.2 [S9]): the model's status
//! (`ValidationException` 400, `ResourceNotFoundException` 404, `ConflictException` 409,
//! `ServiceQuotaExceededException` 402), the header `x-amzn-ErrorType: <Code>` botocore takes
//! the code from, a body `{"message": …}`, and `x-amzn-RequestId`. Message texts are
//! UNCONFIRMED.

use crate::error::AwsError;
use crate::reply::Reply;
use model::Ec2Error;

/// rest-json's content type (FIS answers `application/json` [S9]).
pub const JSON: &str = "application/json";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FisError {
    /// Refused before the operation (authentication), coded as AWS's JSON services code it.
    #[error("{0}")]
    Refused(Ec2Error),
    /// An IAM denial. Not in FIS's model: 403 `AccessDeniedException` as AWS's JSON
    /// services answer it (UNCONFIRMED for FIS, spec §7.2).
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    QuotaExceeded(String),
    /// A method and path FIS has no operation for (UNCONFIRMED code and status).
    #[error("No operation for {0}")]
    UnknownOperation(String),
    /// The store failed (logged); not in the model (UNCONFIRMED code).
    #[error("Internal server error")]
    Internal,
}

impl From<model::fis::Invalid> for FisError {
    fn from(e: model::fis::Invalid) -> FisError {
        FisError::Validation(e.0)
    }
}

impl From<iam::IamError> for FisError {
    fn from(e: iam::IamError) -> FisError {
        match e {
            iam::IamError::AccessDenied(m) => FisError::AccessDenied(m),
            other => FisError::Validation(other.to_string()),
        }
    }
}

impl From<store::StoreError> for FisError {
    fn from(e: store::StoreError) -> FisError {
        tracing::error!(error = %e, "FIS store failure");
        FisError::Internal
    }
}

impl AwsError for FisError {
    fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            // As AWS's JSON services code a refused signature (the codes CloudWatch's JSON
            // wire uses, cloudwatch::error): which of InvalidSignatureException and
            // SignatureDoesNotMatch FIS names for a scope of another service is UNCONFIRMED
            // (spec case 32).
            FisError::Refused(e) => match e {
                Ec2Error::Unsigned => ("MissingAuthenticationTokenException", 403),
                Ec2Error::AuthFailure => ("UnrecognizedClientException", 403),
                Ec2Error::ExpiredToken => ("ExpiredTokenException", 403),
                Ec2Error::CredentialScope(_)
                | Ec2Error::SignatureDoesNotMatch
                | Ec2Error::RequestExpired
                | Ec2Error::HostNotSigned => ("InvalidSignatureException", 403),
                Ec2Error::IncompleteSignature(_) | Ec2Error::AuthFailureMessage(_) => {
                    ("IncompleteSignatureException", 403)
                }
                Ec2Error::RequestEntityTooLarge(_) => ("ValidationException", 413),
                _ => ("ValidationException", 400),
            },
            FisError::AccessDenied(_) => ("AccessDeniedException", 403),
            FisError::Validation(_) => ("ValidationException", 400),
            FisError::NotFound(_) => ("ResourceNotFoundException", 404),
            FisError::Conflict(_) => ("ConflictException", 409),
            FisError::QuotaExceeded(_) => ("ServiceQuotaExceededException", 402),
            FisError::UnknownOperation(_) => ("UnknownOperationException", 404),
            FisError::Internal => ("InternalServerException", 500),
        }
    }

    fn message(&self) -> String {
        match self {
            FisError::Refused(e) => crate::query_api::refused_message(e),
            e => e.to_string(),
        }
    }

    fn render(&self, request_id: &str) -> Reply {
        let (code, status) = self.code_and_status();
        let body = serde_json::json!({ "message": self.message() });
        Reply::new(status, JSON, body.to_string())
            .with_header("x-amzn-requestid", request_id.to_string())
            .with_header("x-amzn-errortype", code.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Spec §7.1: status, `x-amzn-ErrorType`, a JSON body with `message`, the request id.
    #[test]
    fn errors_are_rest_json() {
        let r = FisError::Validation("bad".into()).render("rid");
        assert_eq!((r.status, r.content_type), (400, JSON));
        assert_eq!(header(&r, "x-amzn-errortype"), Some("ValidationException"));
        assert_eq!(header(&r, "x-amzn-requestid"), Some("rid"));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body, serde_json::json!({"message": "bad"}));
        let status = |e: FisError| e.render("r").status;
        assert_eq!(status(FisError::NotFound("x".into())), 404);
        assert_eq!(status(FisError::Conflict("x".into())), 409);
        assert_eq!(status(FisError::QuotaExceeded("x".into())), 402);
        assert_eq!(status(FisError::AccessDenied("x".into())), 403);
    }

    /// Case 32: a credential scoped to another service is a signature error, 403.
    #[test]
    fn a_scope_for_another_service_is_a_signature_error() {
        let r = FisError::Refused(Ec2Error::CredentialScope("scope".into())).render("r");
        assert_eq!(r.status, 403);
        assert_eq!(
            header(&r, "x-amzn-errortype"),
            Some("InvalidSignatureException")
        );
    }
}
