//! The PostgreSQL backend (issue 14), being built: for now its connection, its schema and
//! migrations guarded against several nodes starting at once ([`schema`]), the retry of
//! transactions PostgreSQL rolls back for another's sake ([`retry`]), the change feed's
//! rows appended in commit order and read from a position ([`feed`]), and the metadata
//! hosts' leases ([`hosts`]). The store's traits come next; until then `imds serve` runs on
//! SQLite only.
//!
//! Its suites run against a throw-away server the test command starts
//! (`scripts/postgres`), whose URL is `IMDS_TEST_POSTGRES_URL`.

pub mod feed;
pub mod hosts;
pub mod retry;
pub mod schema;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

pub use schema::{MigrateError, Migrated};

/// Connections a node keeps to the database at most.
const MAX_CONNECTIONS: u32 = 16;

/// A node's connection to the shared database, its schema current.
pub struct PgDatabase {
    pool: PgPool,
    migrated: Migrated,
}

impl PgDatabase {
    /// Connect to `url` (`postgres://…`) and bring the schema to this build's version (or
    /// wait while another node does).
    pub async fn open(url: &str) -> Result<PgDatabase, MigrateError> {
        let options = PgConnectOptions::from_str(url)?.application_name("imds");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        let migrated = schema::migrate(&pool).await?;
        Ok(PgDatabase { pool, migrated })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// What the open's migration found and did.
    pub fn migrated(&self) -> Migrated {
        self.migrated
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
