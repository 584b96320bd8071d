//! The PostgreSQL backend (issue 14): [`PgStore`], every trait of the store (one module
//! per concern: `instances`, `records`, `network`, `tags`, `documents`), passing the same
//! conformance suite as SQLite; its schema and migrations guarded against several nodes starting at
//! once ([`schema`]); the retry of transactions PostgreSQL rolls back for another's sake
//! ([`retry`]); the change feed's rows in commit order and a node's view of its position
//! ([`feed`]); the metadata hosts' leases ([`hosts`]); the keys every node holds alike
//! ([`secrets`]). `imds serve --database-url` runs on it.
//!
//! Its suites run against a throw-away server the test command starts
//! (`scripts/postgres`), whose URL is `IMDS_TEST_POSTGRES_URL`.

mod attrs;
mod documents;
pub mod feed;
pub mod hosts;
mod instances;
mod network;
mod pages;
mod records;
pub mod retry;
mod saves;
pub mod schema;
pub mod secrets;
mod store;
mod tags;
mod updates;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

pub use schema::{MigrateError, Migrated};
pub use store::PgStore;

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
