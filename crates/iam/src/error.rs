//! IAM's own errors, as the IAM Query API answers them (botocore's IAM model gives the codes
//! and HTTP statuses; the messages are IAM's wording as seen in its responses).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    ValidationError(String),
    #[error("{0}")]
    AccessDenied(String),
}

impl IamError {
    /// The error code and HTTP status (botocore `iam` service-2.json `error` traits).
    pub fn code_and_status(&self) -> (&'static str, u16) {
        match self {
            IamError::NoSuchEntity(_) => ("NoSuchEntity", 404),
            IamError::EntityAlreadyExists(_) => ("EntityAlreadyExists", 409),
            IamError::DeleteConflict(_) => ("DeleteConflict", 409),
            IamError::MalformedPolicyDocument(_) => ("MalformedPolicyDocument", 400),
            IamError::LimitExceeded(_) => ("LimitExceeded", 409),
            IamError::InvalidInput(_) => ("InvalidInput", 400),
            IamError::ValidationError(_) => ("ValidationError", 400),
            IamError::AccessDenied(_) => ("AccessDenied", 403),
        }
    }
}
