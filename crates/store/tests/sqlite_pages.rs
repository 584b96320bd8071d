//! Issue 13: a filtered page of DescribeInstances reads about what it returns, whatever the
//! fleet's size and however selective its filters (`SqliteStore::rows_read` counts the rows a
//! page reads), and a store written before the scope was in the attributes' index opens and
//! answers the same pages.

use imds_store as store;

use model::HttpTokens;
use sqlx::{Connection, SqliteConnection};
use store::conformance::launch;
use store::conformance::pages::{self as shape, f, fleet};
use store::sqlite::{Durability, SqliteStore};
use store::{InstanceStore, Store};

use store::conformance::TempDir as Dir;

fn temp(name: &str) -> Dir {
    Dir::new(&format!("pages-{name}"))
}

fn scope() -> model::Scope {
    model::Scope::new("123456789012", "us-west-2")
}

/// Every page of `filters` at `limit` a page: the ids in order, and the most rows one page
/// read.
async fn pages(
    s: &SqliteStore,
    filters: Vec<model::filter::Filter>,
    limit: u32,
) -> (Vec<String>, u64) {
    shape::pages(s, &|| s.rows_read(), filters, limit).await
}

#[tokio::test]
async fn a_filtered_page_reads_what_it_returns_not_the_fleet() {
    let d = temp("rows");
    let s = SqliteStore::open(&d.0.join("db"), Durability::Volatile)
        .await
        .unwrap();
    shape::a_filtered_page_reads_what_it_returns_not_the_fleet(&s, &|| s.rows_read()).await;
    s.close().await;
}

#[tokio::test]
async fn a_page_of_pending_instances_reads_what_it_returns() {
    let d = temp("state");
    let s = SqliteStore::open(&d.0.join("db"), Durability::Volatile)
        .await
        .unwrap();
    shape::a_page_of_pending_instances_reads_what_it_returns(&s, &|| s.rows_read()).await;
    s.close().await;
}

/// Turn a store of this version back into one of schema version 4: attributes without
/// their scope, indexed by `(name, value, pk)`, no `scopes`, no DescribeTags indexes (and
/// no compact served columns, schema 6's; `metadata-options.http-tokens` as filter rows, not
/// schema 9's packed options: the other rows schema 9 removes are not made again; nor
/// schema 10's event column and documents).
async fn as_version_4(path: &std::path::Path) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE old_attrs (pk INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (pk, name, value)) WITHOUT ROWID;
         INSERT INTO old_attrs SELECT pk, name, value FROM instance_attrs;
         INSERT INTO old_attrs SELECT pk, 'metadata-options.http-tokens',
             CASE WHEN options & 256 THEN 'required' ELSE 'optional' END FROM instances;
         DROP TABLE instance_attrs;
         ALTER TABLE old_attrs RENAME TO instance_attrs;
         CREATE INDEX instance_attrs_value ON instance_attrs(name, value, pk);
         DROP TABLE scopes;
         DROP INDEX tags_key;
         DROP INDEX tags_type;
         DROP INDEX instances_options_scope;
         ALTER TABLE instances DROP COLUMN launch_time_ms;
         ALTER TABLE instances DROP COLUMN options;
         ALTER TABLE instances DROP COLUMN options_generation;
         ALTER TABLE instances DROP COLUMN applied_generation;
         ALTER TABLE instances DROP COLUMN applied_options;
         ALTER TABLE instances DROP COLUMN unsettled_association;
         ALTER TABLE changes ADD COLUMN doc TEXT;
         DROP INDEX instances_pending_scope;
         DROP INDEX instances_event_due;
         ALTER TABLE instances DROP COLUMN event_due_ms;
         DROP TABLE documents;
         PRAGMA user_version = 4;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_store_of_schema_4_opens_and_answers_filtered_pages() {
    let d = temp("migrate");
    let path = d.0.join("db");
    let required = {
        let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
        let required = fleet(&s, 1000, 100).await;
        s.close().await;
        required
    };
    as_version_4(&path).await;
    let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
    assert!(!s.created());
    let (ids, most) = pages(
        &s,
        vec![f("metadata-options.http-tokens", &["required"])],
        3,
    )
    .await;
    assert_eq!(ids, required);
    assert!(most <= 2 * (3 + 1) + 8, "{most}");
    // The migrated attributes are kept up to date by the writes that follow.
    s.update_instances(
        &scope(),
        &required[..1],
        store::ungated(),
        Box::new(|i, _| {
            i.metadata.http_tokens = HttpTokens::Optional;
            Ok(())
        }),
    )
    .await
    .unwrap();
    let (ids, _) = pages(
        &s,
        vec![f("metadata-options.http-tokens", &["required"])],
        3,
    )
    .await;
    assert_eq!(ids, required[1..]);
    let launched = launch(&s, 1).await;
    let (ids, _) = pages(&s, vec![f("instance-id", &[&launched[0].instance_id])], 3).await;
    assert_eq!(ids, [launched[0].instance_id.clone()]);
    s.close().await;
}
