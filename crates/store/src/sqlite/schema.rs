//! The SQLite schema, created on first open. The version lives in `PRAGMA user_version`.

use super::served_columns::{self, Columns};
use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

const VERSION: i64 = 10;

const V1: &str = r#"
CREATE TABLE instances (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,   -- launch order; pagination position
    instance_id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    state TEXT NOT NULL,
    subnet_id TEXT NOT NULL,
    private_ip TEXT NOT NULL,
    due_ms INTEGER,                         -- next lifecycle transition
    pending_apply INTEGER NOT NULL,         -- desired options not yet applied
    client_token TEXT,
    terminated_at_ms INTEGER,
    doc TEXT NOT NULL                       -- model::Instance as JSON
);
CREATE INDEX instances_scope ON instances(account, region, pk);
CREATE INDEX instances_due ON instances(due_ms) WHERE due_ms IS NOT NULL;
CREATE INDEX instances_pending ON instances(pending_apply) WHERE pending_apply = 1;
CREATE INDEX instances_token ON instances(account, region, client_token) WHERE client_token IS NOT NULL;
CREATE INDEX instances_subnet ON instances(subnet_id, private_ip);
CREATE INDEX instances_terminated ON instances(terminated_at_ms) WHERE terminated_at_ms IS NOT NULL;

-- The DescribeInstances filter attributes of each instance (model::Instance::filter_attributes).
CREATE TABLE instance_attrs (
    pk INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (pk, name, value)
) WITHOUT ROWID;
CREATE INDEX instance_attrs_value ON instance_attrs(name, value, pk);

-- Tags of every resource type, for DescribeTags.
CREATE TABLE tags (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (resource_id, key)
);
CREATE INDEX tags_scope ON tags(account, region, pos);

CREATE TABLE account_defaults (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, region)
) WITHOUT ROWID;

CREATE TABLE images (
    image_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX images_scope ON images(account, region);

CREATE TABLE launch_templates (
    launch_template_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (account, region, name)
);

CREATE TABLE launch_template_versions (
    launch_template_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (launch_template_id, version)
) WITHOUT ROWID;

-- The change feed (crate::feed).
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    generation INTEGER NOT NULL,
    at_ms INTEGER NOT NULL
);
"#;

/// Version 2: the IAM entities (users, roles, managed policies, instance profiles), one JSON
/// document each, as `iam::registry` writes them.
const V2: &str = r#"
CREATE TABLE iam_records (
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (account, kind, name)
) WITHOUT ROWID;
"#;

/// Version 3: the VPCs and subnets accounts create (the default VPC lives in the model's
/// catalogue), one `model::vpc` document each, in creation order.
const V3: &str = r#"
CREATE TABLE vpcs (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    vpc_id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX vpcs_scope ON vpcs(account, region, pos);

CREATE TABLE subnets (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    subnet_id TEXT NOT NULL UNIQUE,
    vpc_id TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX subnets_scope ON subnets(account, region, pos);
CREATE INDEX subnets_vpc ON subnets(vpc_id);
"#;

/// Version 4: each change carries the instance as the change wrote it (its JSON document),
/// so that a metadata host installs it without reading the instance again. Rows written
/// before have none; no follower reads them (a host loads every instance when it starts).
const V4: &str = r#"
ALTER TABLE changes ADD COLUMN doc TEXT;
"#;

/// Version 5: pages whose cost is the page's, not the fleet's (`sqlite::pages`). Each
/// scope (account, Region) gets a small integer id (`scopes`), and each filter attribute
/// carries its instance's scope, first in the index key, so that a filter's rows are one
/// index range per value, in launch order, that never holds another account's instances.
/// DescribeTags' filters get indexes of their own, by key and by resource type, in `pos`
/// order. The attributes are rewritten from the old table.
const V5: &str = r#"
CREATE TABLE scopes (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    UNIQUE (account, region)
);
INSERT INTO scopes (account, region) SELECT DISTINCT account, region FROM instances;

CREATE TABLE instance_attrs_v5 (
    pk INTEGER NOT NULL,
    scope INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (pk, name, value)
) WITHOUT ROWID;
INSERT INTO instance_attrs_v5 (pk, scope, name, value)
    SELECT a.pk, s.id, a.name, a.value FROM instance_attrs a
    JOIN instances i ON i.pk = a.pk
    JOIN scopes s ON s.account = i.account AND s.region = i.region;
DROP TABLE instance_attrs;
ALTER TABLE instance_attrs_v5 RENAME TO instance_attrs;
CREATE INDEX instance_attrs_scope ON instance_attrs(scope, name, value, pk);

CREATE INDEX tags_key ON tags(account, region, key, pos);
CREATE INDEX tags_type ON tags(account, region, resource_type, pos);
"#;

/// Version 6: the compact columns a metadata host loads at start (`served_columns`), so
/// that it reads a few integers per instance rather than having SQLite parse a million JSON
/// documents. The rows written before are filled by [`fill_served_columns`], from each
/// document as the model reads it (the same values every write computes).
const V6: &str = r#"
ALTER TABLE instances ADD COLUMN launch_time_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN options INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN options_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN applied_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN applied_options INTEGER;
ALTER TABLE instances ADD COLUMN unsettled_association TEXT;
"#;

/// Version 7: a change no longer carries the instance's document; a follower reads the
/// instance as it is now, beside the change (`reads::changes_after`). Every write wrote its
/// document twice (the instance's row, the feed's), and the feed held a million of them
/// (most of the file, and of the WAL each write goes through).
const V7: &str = r#"
ALTER TABLE changes DROP COLUMN doc;
"#;

/// Version 8: `metadata-options.state` is answered from `pending_apply`
/// (`sqlite::column_filters`), whose pending rows get an index by scope in launch order; its
/// filter rows go.
const V8: &str = r#"
CREATE INDEX instances_pending_scope ON instances(account, region, pk) WHERE pending_apply = 1;
DELETE FROM instance_attrs WHERE name = 'metadata-options.state';
"#;

/// Version 9: the `metadata-options.*` filters but `state` are answered from the packed
/// `options` (`sqlite::column_filters`), through its index by scope in launch order, and
/// `instance-id` from the row's unique `instance_id`: their filter rows go (seven of an
/// instance's ~19; requiring IMDSv2 moved two of their entries, three random pages).
const V9: &str = r#"
CREATE INDEX instances_options_scope ON instances(account, region, options, pk);
DELETE FROM instance_attrs WHERE name IN ('metadata-options.http-tokens',
    'metadata-options.http-put-response-hop-limit', 'metadata-options.http-endpoint',
    'metadata-options.http-protocol-ipv4', 'metadata-options.http-protocol-ipv6',
    'metadata-options.instance-metadata-tags', 'instance-id');
"#;

/// Version 10: instance events (`model::events`). Each instance keeps when its next event
/// step is due (`Instance::next_event_ms`, NULL for the many without events) beside its
/// document, indexed where set, so the lifecycle driver finds the due ones
/// (`InstanceStore::take_due_events`) without reading the others. Documents written before
/// carry no events: NULL is their value. And the documents of the services beside EC2
/// (`crate::documents`: FIS's templates and experiments), kept as their writer's text, in
/// the order first written (`pos`), by kind and scope.
const V10: &str = r#"
ALTER TABLE instances ADD COLUMN event_due_ms INTEGER;
CREATE INDEX instances_event_due ON instances(event_due_ms) WHERE event_due_ms IS NOT NULL;

CREATE TABLE documents (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (kind, account, region, id)
);
CREATE INDEX documents_scope ON documents(kind, account, region, pos);
"#;

/// Instances read (and rewritten) at a time when filling version 6's columns.
const FILL_BATCH: i64 = 2000;

/// Fill version 6's columns of every instance from its document.
async fn fill_served_columns(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT pk, doc FROM instances WHERE pk > ? ORDER BY pk LIMIT ?")
                .bind(after)
                .bind(FILL_BATCH)
                .fetch_all(&mut *conn)
                .await?;
        let Some(&(last, _)) = rows.last() else {
            return Ok(());
        };
        after = last;
        let mut columns = Vec::with_capacity(rows.len());
        for (pk, doc) in &rows {
            let i: model::Instance =
                serde_json::from_str(doc).map_err(|e| sqlx::Error::Decode(e.into()))?;
            columns.push((*pk, Columns::of(&i)));
        }
        // One multi-row UPDATE, as the writer's saves (`;`-joined statements make SQLite
        // copy the rest of the text at each one it prepares).
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE instances SET pk = pk");
        q.push(served_columns::set_from_values(2, true))
            .push(" FROM (");
        q.push_values(&columns, |mut b, (pk, c)| {
            b.push_bind(*pk);
            c.bind(&mut b);
        });
        q.push(") AS v WHERE instances.pk = v.column1");
        q.build().execute(&mut *conn).await?;
    }
}

/// Whether the store's schema is up to date (not new, nothing to migrate).
pub async fn current(conn: &mut SqliteConnection) -> sqlx::Result<bool> {
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *conn)
        .await?;
    Ok(version >= VERSION)
}

/// Bring the schema up to date; `true` when the store was new (no schema yet: a file just
/// created, or an empty one).
pub async fn migrate(conn: &mut SqliteConnection) -> sqlx::Result<bool> {
    let version: i64 = sqlx::query_scalar("PRAGMA user_version")
        .fetch_one(&mut *conn)
        .await?;
    if version >= VERSION {
        return Ok(false);
    }
    let mut tx = conn.begin().await?;
    // Each step brings a database of the version before it up to date.
    for (step, sql) in [
        (1, V1),
        (2, V2),
        (3, V3),
        (4, V4),
        (5, V5),
        (6, V6),
        (7, V7),
        (8, V8),
        (9, V9),
        (10, V10),
    ] {
        if version < step {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
        }
    }
    if version > 0 && version < 6 {
        fill_served_columns(&mut tx).await?;
    }
    sqlx::raw_sql(&format!("PRAGMA user_version = {VERSION}"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(version == 0)
}
