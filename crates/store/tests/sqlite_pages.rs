//! Issue 13: a filtered page of DescribeInstances reads about what it returns, whatever the
//! fleet's size and however selective its filters (`SqliteStore::rows_read` counts the rows a
//! page reads), and a store written before the scope was in the attributes' index opens and
//! answers the same pages.

use imds_store as store;

use model::filter::Filter;
use model::HttpTokens;
use sqlx::{Connection, SqliteConnection};
use store::conformance::{launch, require_tokens};
use store::sqlite::{Durability, SqliteStore};
use store::{InstanceQuery, InstanceStore, Store};

use store::conformance::TempDir as Dir;

fn temp(name: &str) -> Dir {
    Dir::new(&format!("pages-{name}"))
}

fn scope() -> model::Scope {
    model::Scope::new("123456789012", "us-west-2")
}

fn f(name: &str, values: &[&str]) -> Filter {
    Filter {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// `count` instances, every `every`th with IMDSv2 required; returns the ids required, in
/// launch order.
async fn fleet(s: &SqliteStore, count: u32, every: usize) -> Vec<String> {
    let mut all = Vec::new();
    for _ in 0..count / 500 {
        all.extend(launch(s, 500).await);
    }
    let required: Vec<String> = all
        .iter()
        .step_by(every)
        .map(|i| i.instance_id.clone())
        .collect();
    s.update_instances(
        &scope(),
        &required,
        store::ungated(),
        Box::new(|i, _| {
            i.metadata.http_tokens = HttpTokens::Required;
            Ok(())
        }),
    )
    .await
    .unwrap();
    required
}

/// Every page of `filters` at `limit` a page: the ids in order, and the most rows one page
/// read.
async fn pages(s: &SqliteStore, filters: Vec<Filter>, limit: u32) -> (Vec<String>, u64) {
    let mut q = InstanceQuery {
        ids: None,
        filters,
        after: None,
        limit: Some(limit),
    };
    let (mut ids, mut most) = (Vec::new(), 0);
    loop {
        let before = s.rows_read();
        let page = s.describe_instances(&scope(), &q).await.unwrap();
        most = most.max(s.rows_read() - before);
        assert!(page.instances.len() <= limit as usize);
        ids.extend(page.instances.into_iter().map(|i| i.instance_id));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return (ids, most),
        }
    }
}

#[tokio::test]
async fn a_filtered_page_reads_what_it_returns_not_the_fleet() {
    let d = temp("rows");
    let s = SqliteStore::open(&d.0.join("db"), Durability::Volatile)
        .await
        .unwrap();
    let required = fleet(&s, 2500, 250).await;
    assert_eq!(required.len(), 10);
    // A page of 5 reads its 5 and the one after, twice (candidates, then documents), a few
    // rows to look up a wildcard's values and, with several filters, at most two pages and a
    // little of each to choose the one that drives: never the 2,500 instances, nor the
    // 2,490 that fail.
    let page = 5 + 1;
    let bound = |filters: &[Filter]| {
        let choosing = if filters.len() > 1 {
            filters.len() * (2 * page + 16)
        } else {
            0
        };
        2 * page + choosing + 8
    };
    for filters in [
        vec![f("metadata-options.http-tokens", &["required"])],
        // Several values: their ranges merged.
        vec![f(
            "metadata-options.http-tokens",
            &["required", "nothing-else"],
        )],
        // A wildcard: its distinct values looked up, then merged.
        vec![f("metadata-options.http-tokens", &["req*"])],
        // A broad filter beside it: the selective one drives the page.
        vec![
            f("instance-type", &["m5.large"]),
            f("metadata-options.http-tokens", &["required"]),
            f("availability-zone", &["us-west-2*"]),
        ],
        // A field of the options every instance matches, beside the selective one.
        vec![
            f("metadata-options.http-endpoint", &["enabled"]),
            f("metadata-options.http-tokens", &["required"]),
            f("metadata-options.http-put-response-hop-limit", &["1", "2"]),
        ],
    ] {
        let (ids, most) = pages(&s, filters.clone(), 5).await;
        assert_eq!(ids, required, "{filters:?}");
        assert!(
            most <= bound(&filters) as u64,
            "{filters:?}: a page read {most} rows"
        );
    }
    // Exact instance ids drive by the instances' unique index (schema 9), in launch order;
    // a wildcard id is probed on each row.
    let (ids, most) = pages(
        &s,
        vec![
            f("instance-id", &[&required[7], &required[3]]),
            f("instance-type", &["m5.large"]),
        ],
        5,
    )
    .await;
    assert_eq!(ids, [required[3].clone(), required[7].clone()]);
    assert!(most <= bound(&[]) as u64, "a page read {most} rows");
    let id = &required[4];
    let prefix = format!("{}?", &id[..id.len() - 1]);
    let (ids, _) = pages(
        &s,
        vec![
            f("instance-id", &[&prefix]),
            f("metadata-options.http-tokens", &["required"]),
        ],
        5,
    )
    .await;
    assert_eq!(ids, [required[4].clone()]);
    // No filter: the scope's instances, a page's worth.
    let before = s.rows_read();
    let page = s
        .describe_instances(
            &scope(),
            &InstanceQuery {
                limit: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.instances.len(), 5);
    assert!(s.rows_read() - before <= bound(&[]) as u64);
    // A filter nothing matches reads next to nothing.
    let (ids, most) = pages(&s, vec![f("instance-type", &["t2.nano", "c5.*"])], 5).await;
    assert!(ids.is_empty());
    assert!(most <= 8, "{most}");
    let (ids, most) = pages(
        &s,
        vec![f("metadata-options.http-put-response-hop-limit", &["2"])],
        5,
    )
    .await;
    assert!(ids.is_empty());
    assert!(most <= 8, "{most}");
    // Another account's scope reads none of these instances.
    let other = model::Scope::new("210987654321", "us-west-2");
    let page = s
        .describe_instances(
            &other,
            &InstanceQuery {
                filters: vec![f("instance-type", &["m5.large"])],
                limit: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(page.instances.is_empty() && page.next.is_none());
    s.close().await;
}

/// `metadata-options.state` is answered from the instances' `pending_apply` column, not
/// filter rows: a page of the few pending instances reads what it returns, the applied ones
/// are the rest, and an acknowledgement moves an instance from one to the other.
#[tokio::test]
async fn a_page_of_pending_instances_reads_what_it_returns() {
    let d = temp("state");
    let s = SqliteStore::open(&d.0.join("db"), Durability::Volatile)
        .await
        .unwrap();
    let mut all = Vec::new();
    for _ in 0..5 {
        all.extend(launch(&s, 500).await);
    }
    let ids: Vec<String> = all.iter().map(|i| i.instance_id.clone()).collect();
    let applied: Vec<(String, u64)> = all
        .iter()
        .map(|i| (i.instance_id.clone(), i.options_generation))
        .collect();
    s.mark_applied(&applied).await.unwrap();
    let pending: Vec<String> = ids.iter().step_by(250).cloned().collect();
    require_tokens(&s, &pending).await;
    let (got, most) = pages(&s, vec![f("metadata-options.state", &["pending"])], 5).await;
    assert_eq!(got, pending);
    assert!(
        most <= 2 * 6 + 8,
        "a page of pending instances read {most} rows"
    );
    let (got, _) = pages(&s, vec![f("metadata-options.state", &["p*"])], 5).await;
    assert_eq!(got, pending);
    // Beside a selective filter, the state is a probe of what that one drives.
    let (got, most) = pages(
        &s,
        vec![
            f("metadata-options.state", &["applied"]),
            f("metadata-options.http-tokens", &["required"]),
        ],
        5,
    )
    .await;
    assert!(got.is_empty());
    assert!(most <= 2 * (2 * 6 + 16) + 8, "{most}");
    let (got, _) = pages(&s, vec![f("metadata-options.state", &["applied"])], 1000).await;
    let rest: Vec<String> = ids
        .iter()
        .filter(|i| !pending.contains(i))
        .cloned()
        .collect();
    assert_eq!(got, rest);
    // The acknowledgement of the first one makes it applied again.
    let now = s.instances(&scope(), &pending[..1]).await.unwrap();
    s.mark_applied(&[(pending[0].clone(), now[0].options_generation)])
        .await
        .unwrap();
    let (got, _) = pages(&s, vec![f("metadata-options.state", &["pending"])], 5).await;
    assert_eq!(got, pending[1..].to_vec());
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
