//! What can go wrong in the store, whatever the backend.

use model::Ec2Error;

/// What can go wrong in the store: either the domain refused the change, or the database
/// failed (which the API reports as `InternalError` and logs).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] Ec2Error),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored record could not be read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("the store is shut down")]
    Closed,
    /// The file is not a database, or its pages fail SQLite's integrity check: it is never
    /// served (it would answer 500s), and the message says what to do.
    #[error(
        "the store {} is damaged ({detail}). Restore it from a backup, or move it aside: \
         imds then starts a new store there, with a first instance",
        path.display()
    )]
    Damaged {
        path: std::path::PathBuf,
        detail: String,
    },
}

impl From<StoreError> for Ec2Error {
    fn from(e: StoreError) -> Ec2Error {
        match e {
            StoreError::Refused(e) => e,
            other => {
                tracing::error!(error = %other, "store failure");
                Ec2Error::InternalError
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;
