//! What every node of one database must hold alike: the key that signs instance identity
//! documents, the key that authenticates session credentials and the key of IMDSv2
//! tokens (issue 14: "session and identity-signing keys shared through the database, so
//! any node verifies what another issued"). On SQLite they are files in the data dir.
//!
//! The first node to need a secret makes it; nodes starting together each make one, and
//! the first insert wins (`ON CONFLICT DO NOTHING`): every node then reads the winner.

use sqlx::PgPool;

/// The secret `name`, made with `make` if the database has none yet.
pub async fn shared(
    pool: &PgPool,
    name: &str,
    make: impl FnOnce() -> Vec<u8>,
) -> sqlx::Result<Vec<u8>> {
    if let Some(v) = read(pool, name).await? {
        return Ok(v);
    }
    sqlx::query(
        "INSERT INTO shared_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(make())
    .execute(pool)
    .await?;
    read(pool, name)
        .await?
        .ok_or_else(|| sqlx::Error::RowNotFound)
}

async fn read(pool: &PgPool, name: &str) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("SELECT value FROM shared_secrets WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
}
