//! The PostgreSQL schema and its migrations, applied at start by whichever node gets there
//! first.
//!
//! Several nodes may start at once against one database (issue 14), so a migration runs in
//! one transaction that first takes a transaction-scoped advisory lock
//! ([`MIGRATION_LOCK`]): the others wait on it, then find the schema current and apply
//! nothing. The versions applied are rows of `imds_schema` (one per version, its key the
//! version), so a version applied twice would fail on the key rather than pass unseen. A
//! database whose schema is newer than this build is refused, not written.
//!
//! The tables are SQLite's (`sqlite::schema`, version 9) in PostgreSQL's types: documents
//! are `jsonb` (so a write can set a field with `jsonb_set`, as SQLite's `json_set`), keys
//! `bigint` identities.

use sqlx::{Executor, PgPool};

/// `pg_advisory_xact_lock`'s key for migrations (any constant no other user of the
/// database takes: "imds" in ASCII, then 1).
pub const MIGRATION_LOCK: i64 = 0x696d_6473_0000_0001;

/// The migrations, in order: version `n` is `MIGRATIONS[n - 1]`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

/// The schema version this build writes.
pub fn version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Version 1: the store's tables as SQLite's version 9 holds them.
const V1: &str = r#"
CREATE TABLE scopes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    UNIQUE (account, region)
);

CREATE TABLE instances (
    pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- launch order; pagination position
    instance_id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    state TEXT NOT NULL,
    subnet_id TEXT NOT NULL,
    private_ip TEXT NOT NULL,
    due_ms BIGINT,                          -- next lifecycle transition
    pending_apply BOOLEAN NOT NULL,         -- desired options not yet applied
    client_token TEXT,
    terminated_at_ms BIGINT,
    launch_time_ms BIGINT NOT NULL,
    options BIGINT NOT NULL,                -- packed (sqlite::served_columns::pack)
    options_generation BIGINT NOT NULL,
    applied_generation BIGINT NOT NULL,
    applied_options BIGINT,
    unsettled_association TEXT,
    doc JSONB NOT NULL                      -- model::Instance
);
CREATE INDEX instances_scope ON instances(account, region, pk);
CREATE INDEX instances_due ON instances(due_ms) WHERE due_ms IS NOT NULL;
CREATE INDEX instances_pending_scope ON instances(account, region, pk) WHERE pending_apply;
CREATE INDEX instances_options_scope ON instances(account, region, options, pk);
CREATE INDEX instances_token ON instances(account, region, client_token) WHERE client_token IS NOT NULL;
CREATE INDEX instances_subnet ON instances(subnet_id, private_ip);
CREATE INDEX instances_terminated ON instances(terminated_at_ms) WHERE terminated_at_ms IS NOT NULL;

-- The DescribeInstances filter attributes kept as rows (pages::column_filters says which).
CREATE TABLE instance_attrs (
    pk BIGINT NOT NULL,
    scope BIGINT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (pk, name, value)
);
CREATE INDEX instance_attrs_scope ON instance_attrs(scope, name, value, pk);

CREATE TABLE tags (
    pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (resource_id, key)
);
CREATE INDEX tags_scope ON tags(account, region, pos);
CREATE INDEX tags_key ON tags(account, region, key, pos);
CREATE INDEX tags_type ON tags(account, region, resource_type, pos);

CREATE TABLE account_defaults (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    doc JSONB NOT NULL,
    PRIMARY KEY (account, region)
);

CREATE TABLE images (
    image_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    doc JSONB NOT NULL
);
CREATE INDEX images_scope ON images(account, region);

CREATE TABLE launch_templates (
    pos BIGINT GENERATED ALWAYS AS IDENTITY,
    launch_template_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    doc JSONB NOT NULL,
    UNIQUE (account, region, name)
);

CREATE TABLE launch_template_versions (
    launch_template_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    doc JSONB NOT NULL,
    PRIMARY KEY (launch_template_id, version)
);

CREATE TABLE iam_records (
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    doc JSONB NOT NULL,
    PRIMARY KEY (account, kind, name)
);

CREATE TABLE vpcs (
    pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vpc_id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    doc JSONB NOT NULL
);
CREATE INDEX vpcs_scope ON vpcs(account, region, pos);

CREATE TABLE subnets (
    pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subnet_id TEXT NOT NULL UNIQUE,
    vpc_id TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    doc JSONB NOT NULL
);
CREATE INDEX subnets_scope ON subnets(account, region, pos);
CREATE INDEX subnets_vpc ON subnets(vpc_id);

-- The change feed (crate::feed).
CREATE TABLE changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    generation BIGINT NOT NULL,
    at_ms BIGINT NOT NULL
);
"#;

/// Version 2: the metadata hosts alive, each with a lease it renews (`postgres::hosts`);
/// instances are served by the live hosts (`model::placement`).
const V2: &str = r#"
CREATE TABLE metadata_hosts (
    host_id TEXT PRIMARY KEY,
    registered_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until TIMESTAMPTZ NOT NULL
);
CREATE INDEX metadata_hosts_lease ON metadata_hosts(lease_until);
"#;

/// Version 3: what every node must hold alike (`postgres::secrets`: the keys that sign
/// identity documents, authenticate session credentials and IMDSv2 tokens), and the IAM
/// registry's revision, bumped by every IAM write, by which a node sees that another
/// changed IAM (`IamStore::iam_revision`).
const V3: &str = r#"
CREATE TABLE shared_secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE iam_revision (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    revision BIGINT NOT NULL
);
INSERT INTO iam_revision (revision) VALUES (0);
"#;

/// Version 4 (SQLite's 10): instance events. Each instance keeps when its next event step
/// is due (`Instance::next_event_ms`; NULL for the many without events, and for every row
/// written before, whose documents have none), indexed where set, so the lifecycle driver
/// finds the due ones (`InstanceStore::take_due_events`) without reading the others. And
/// the documents of the services beside EC2 (`crate::documents`), in the order first
/// written (`pos`), by kind and scope: `text`, not `jsonb`, so each is handed back as its
/// service wrote it.
const V4: &str = r#"
ALTER TABLE instances ADD COLUMN event_due_ms BIGINT;
CREATE INDEX instances_event_due ON instances(event_due_ms) WHERE event_due_ms IS NOT NULL;

CREATE TABLE documents (
    pos BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (kind, account, region, id)
);
CREATE INDEX documents_scope ON documents(kind, account, region, pos);
"#;

/// Version 5: the instances' filter rows are kept (`postgres::attrs`), so that
/// DescribeInstances reads through their index what a page returns (`crate::pages`), as on
/// SQLite. Their values, and the tags' keys and resource types (DescribeTags' ranges:
/// `pages::tags`), are ordered by their bytes (`COLLATE "C"`, SQLite's `BINARY`): a
/// wildcard value's matches are found by seeking from its literal prefix, which needs every
/// value with the prefix to sort together after it. The table was created by version 1 and
/// never written before, so the rows of the instances already stored are written after this
/// (`attrs::backfill`, in the same transaction), with their scopes' rows.
const V5: &str = r#"
ALTER TABLE instance_attrs ALTER COLUMN value TYPE TEXT COLLATE "C";
ALTER TABLE tags ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE tags ALTER COLUMN resource_type TYPE TEXT COLLATE "C";
INSERT INTO scopes (account, region) SELECT DISTINCT account, region FROM instances
    ON CONFLICT DO NOTHING;
"#;

/// The version whose migration writes the existing instances' filter rows after its SQL.
const ATTRS_BACKFILLED: i64 = 5;

/// What a migration found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// The version the database had (0: new).
    pub from: i64,
    /// The version it has now.
    pub to: i64,
}

/// Why the schema cannot be brought to this build's version.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("the database's schema is version {found}, newer than this build's {supported}: run a newer imds against it")]
    Newer { found: i64, supported: i64 },
    #[error("cannot migrate the PostgreSQL schema: {0}")]
    Db(#[from] sqlx::Error),
    #[error("cannot migrate the PostgreSQL schema: {0}")]
    Backfill(String),
}

/// A transaction once it holds the transaction-scoped advisory lock `key` (the migrations'
/// or the writes'), at `READ COMMITTED` whatever the server's default: a snapshot taken before the
/// lock was granted would not see what the holder before it committed.
pub(super) async fn begin_locked(
    pool: &PgPool,
    key: i64,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Bring the schema to [`version`], under [`MIGRATION_LOCK`] in one transaction: the
/// migrations apply whole or not at all, and a node starting at the same time waits, then
/// finds them applied.
pub async fn migrate(pool: &PgPool) -> Result<Migrated, MigrateError> {
    let mut tx = begin_locked(pool, MIGRATION_LOCK).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS imds_schema (
             version BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *tx)
    .await?;
    let from: i64 = sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM imds_schema")
        .fetch_one(&mut *tx)
        .await?;
    if from > version() {
        return Err(MigrateError::Newer {
            found: from,
            supported: version(),
        });
    }
    for (n, sql) in MIGRATIONS.iter().copied().enumerate().skip(from as usize) {
        // Through `Executor::execute`: `RawSql::execute`'s future is not `Send` for every
        // lifetime, which a spawned open needs.
        (&mut *tx).execute(sqlx::raw_sql(sql)).await?;
        if n as i64 + 1 == ATTRS_BACKFILLED {
            super::attrs::backfill(&mut tx)
                .await
                .map_err(MigrateError::Backfill)?;
        }
        sqlx::query("INSERT INTO imds_schema (version) VALUES ($1)")
            .bind(n as i64 + 1)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Migrated {
        from,
        to: version(),
    })
}
