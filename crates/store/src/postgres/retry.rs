//! Transactions run again when PostgreSQL rolls one back for another's sake: a serialization
//! failure (SQLSTATE `40001`, under `REPEATABLE READ` or `SERIALIZABLE`) or a deadlock
//! (`40P01`). Both mean the transaction did nothing and may succeed if run again from its
//! start; any other error is the caller's.
//!
//! The store's writes that take a mutation (`FnOnce`) run at `READ COMMITTED` under one
//! lock, where PostgreSQL rolls none of them back for another's sake (`PgStore::begin_write`);
//! those that can run twice (a metadata host's acknowledgements and settlements, IAM's
//! records) are also run again here, for engines that run every transaction `SERIALIZABLE`.

use crate::StoreError;
use std::future::Future;
use std::time::Duration;

/// SQLSTATE `serialization_failure`.
pub const SERIALIZATION_FAILURE: &str = "40001";
/// SQLSTATE `deadlock_detected`.
pub const DEADLOCK_DETECTED: &str = "40P01";

/// Attempts at most, the first included.
pub const ATTEMPTS: u32 = 10;

/// The pause before the second attempt; each later one doubles it, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// Whether `e` rolled its transaction back for another's sake, so that running it again
/// may succeed.
pub fn retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => matches!(
            d.code().as_deref(),
            Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED)
        ),
        _ => false,
    }
}

/// Run `attempt` (one whole transaction) until it succeeds, fails with an error that is not
/// [`retryable`], or has run [`ATTEMPTS`] times, pausing between attempts a growing time
/// with jitter, so that the transactions that collided are unlikely to collide again.
/// Returns the last result and the number of attempts made.
pub async fn retrying<T, F, Fut>(attempt: F) -> (Result<T, sqlx::Error>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    retrying_when(retryable, attempt).await
}

/// [`retrying`] for the store's writes, whose errors are [`StoreError`]s: a database error
/// that is [`retryable`] runs the write again. Only for writes that can run twice (their
/// changes are data, or a `Fn` of what they read); the traits' `FnOnce` mutations cannot.
pub async fn retrying_store<T, F, Fut>(attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let again = |e: &StoreError| matches!(e, StoreError::Db(d) if retryable(d));
    retrying_when(again, attempt).await.0
}

async fn retrying_when<T, E, F, Fut>(
    again: impl Fn(&E) -> bool,
    mut attempt: F,
) -> (Result<T, E>, u32)
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut pause = FIRST_PAUSE;
    let mut made = 0;
    loop {
        made += 1;
        match attempt().await {
            Err(e) if again(&e) && made < ATTEMPTS => {
                tracing::debug!(error = %e, attempt = made, "transaction rolled back by PostgreSQL; running it again");
                tokio::time::sleep(jittered(pause)).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            r => return (r, made),
        }
    }
}

/// Between half and all of `pause`, chosen from the clock's nanoseconds (no generator
/// needed: the point is only that two colliding callers rarely pause alike).
fn jittered(pause: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let half = pause / 2;
    half + Duration::from_nanos(u64::from(nanos) % (half.as_nanos() as u64 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_between_half_and_whole() {
        for ms in [2, 4, 200] {
            let p = Duration::from_millis(ms);
            let j = jittered(p);
            assert!(j >= p / 2 && j <= p, "{j:?} for {p:?}");
        }
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let (r, made) = retrying(|| async { Err::<(), _>(sqlx::Error::RowNotFound) }).await;
        assert!(matches!(r, Err(sqlx::Error::RowNotFound)));
        assert_eq!(made, 1);
    }
}
