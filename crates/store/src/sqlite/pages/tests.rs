//! SQLite held to the indexes: every statement a page runs, for every DescribeInstances
//! filter, is planned as index searches (`EXPLAIN QUERY PLAN`), never a scan of a table,
//! and the merged ranges need no sort of what they hold.

use crate::instances::InstanceQuery;
use crate::pages::column_filters;
use crate::pages::sql::{Dialect, Stmt};
use crate::pages::{
    candidates as candidates_of, literal_prefix, passing as passing_of, Driver, MAX_CHUNK,
};
use model::filter::{self, Filter};
use model::Scope;
use sqlx::{Connection, SqliteConnection};

async fn schema() -> SqliteConnection {
    let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
    crate::sqlite::schema::migrate(&mut conn).await.unwrap();
    conn
}

/// The plan's lines.
async fn plan(conn: &mut SqliteConnection, mut s: Stmt) -> Vec<String> {
    s.sql.insert_str(0, "EXPLAIN QUERY PLAN ");
    let rows = super::query(&s).fetch_all(&mut *conn).await.unwrap();
    rows.iter()
        .map(|r| sqlx::Row::get::<String, _>(r, 3))
        .collect()
}

fn scope() -> Scope {
    Scope {
        account: "123456789012".into(),
        region: "us-east-1".into(),
    }
}

fn query(filters: Vec<Filter>) -> InstanceQuery {
    InstanceQuery {
        ids: None,
        filters,
        after: Some(10),
        limit: Some(5),
    }
}

fn f(name: &str, values: &[&str]) -> Filter {
    Filter {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

fn no_scan(plan: &[String], what: &str) {
    assert!(!plan.is_empty(), "{what}: no plan");
    for line in plan {
        assert!(!line.starts_with("SCAN"), "{what} scans: {plan:?}");
    }
}

fn no_sort(plan: &[String], what: &str) {
    for line in plan {
        assert!(!line.contains("TEMP B-TREE"), "{what} sorts: {plan:?}");
    }
}

#[tokio::test]
async fn every_filter_reads_its_index_ranges_merged_in_launch_order() {
    let mut conn = schema().await;
    let s = scope();
    let mut names: Vec<String> = filter::INSTANCE_FILTERS
        .iter()
        .filter(|n| column_filters::kept_as_rows(n))
        .map(|n| n.to_string())
        .collect();
    names.push("tag:Name".into());
    for name in &names {
        for values in [
            vec!["a".to_string()],
            vec!["a".to_string(), "b".into(), "c".into()],
        ] {
            let q = query(vec![
                Filter {
                    name: name.clone(),
                    values: values.clone(),
                },
                f("instance-state-name", &["running", "stop*"]),
            ]);
            let driver = Driver::Ranges {
                index: 0,
                name,
                values: values.clone(),
            };
            let what = format!("{name} = {values:?}");
            let candidates = plan(
                &mut conn,
                candidates_of(Dialect::Sqlite, &driver, &q, &s, 1, 10, 6),
            )
            .await;
            no_scan(&candidates, &what);
            no_sort(&candidates, &what);
            if values.len() > 1 {
                assert!(
                    candidates.iter().any(|l| l.starts_with("MERGE")),
                    "{what}: ranges merged: {candidates:?}"
                );
            }
            for line in candidates.iter().filter(|l| l.starts_with("SEARCH")) {
                assert!(
                    line.contains("instance_attrs_scope (scope=? AND name=? AND value=? AND pk>?)"),
                    "{what}: one range per value, after the cursor: {candidates:?}"
                );
            }
            let passing = plan(
                &mut conn,
                passing_of(Dialect::Sqlite, &driver, &q, &s, &[11, 12, 13], 6),
            )
            .await;
            no_scan(&passing, &what);
            no_sort(&passing, &what);
        }
        // Too broad to list: the attribute's rows in the scope, never the table.
        let q = query(vec![f(name, &["*7"])]);
        let driver = Driver::Scan { index: 0, name };
        let scan = plan(
            &mut conn,
            candidates_of(Dialect::Sqlite, &driver, &q, &s, 1, 10, 6),
        )
        .await;
        no_scan(&scan, name);
        assert!(
            scan.iter().any(|l| l.contains("(scope=? AND name=?")),
            "{name}: the attribute's index range: {scan:?}"
        );
    }
}

/// A filter answered from a column drives through the column's index by scope, in launch
/// order after the cursor without a sort: `metadata-options.state` through `pending_apply`
/// (`pending` its partial index, `applied` the scope's index), a field of the packed options
/// through the ranges of the packed values it matches (`instances_options_scope`, schema 9),
/// merged. As another filter it is a probe of the instance's row.
#[tokio::test]
async fn column_filters_read_their_column_by_scope() {
    let mut conn = schema().await;
    let s = scope();
    for (column, value, index) in [
        (
            &column_filters::OPTIONS_STATE,
            "pending",
            "instances_pending_scope",
        ),
        (&column_filters::OPTIONS_STATE, "applied", "instances_scope"),
        (
            &column_filters::HTTP_TOKENS,
            "required",
            "instances_options_scope",
        ),
        (&column_filters::HOP_LIMIT, "2", "instances_options_scope"),
    ] {
        let q = query(vec![
            f(column.name, &[value]),
            f("instance-type", &["t3.micro"]),
        ]);
        let driver = if column.is_packed() {
            // Two packed values the scope holds that the filter matches.
            Driver::Packed {
                index: 0,
                values: vec![0x102, 0x302],
            }
        } else {
            Driver::Column {
                index: 0,
                column,
                values: column.matching(&q.filters[0]),
            }
        };
        let candidates = plan(
            &mut conn,
            candidates_of(Dialect::Sqlite, &driver, &q, &s, 1, 10, 6),
        )
        .await;
        no_scan(&candidates, value);
        no_sort(&candidates, value);
        assert!(
            candidates
                .iter()
                .any(|l| l.contains(index) && l.contains("pk>?")),
            "{value}: {index} after the cursor: {candidates:?}"
        );
        let passing = plan(
            &mut conn,
            passing_of(Dialect::Sqlite, &driver, &q, &s, &[11, 12, 13], 6),
        )
        .await;
        no_scan(&passing, value);
        no_sort(&passing, value);
        // Probed beside another driver.
        let q = query(vec![
            f("instance-type", &["t3.micro"]),
            f(column.name, &[value]),
        ]);
        let by_type = Driver::Ranges {
            index: 0,
            name: "instance-type",
            values: vec!["t3.micro".into()],
        };
        let passing = plan(
            &mut conn,
            passing_of(Dialect::Sqlite, &by_type, &q, &s, &[11, 12, 13], 6),
        )
        .await;
        no_scan(&passing, value);
        no_sort(&passing, value);
    }
}

#[tokio::test]
async fn ids_and_the_scope_are_index_searches() {
    let mut conn = schema().await;
    let s = scope();
    let ids = vec!["i-1".to_string(), "i-2".into()];
    let q = InstanceQuery {
        ids: Some(ids.clone()),
        filters: vec![f("instance-type", &["t3.micro"])],
        after: None,
        limit: None,
    };
    let driver = Driver::Ids(&ids);
    no_scan(
        &plan(
            &mut conn,
            candidates_of(Dialect::Sqlite, &driver, &q, &s, 1, 0, 6),
        )
        .await,
        "ids",
    );
    no_scan(
        &plan(
            &mut conn,
            passing_of(Dialect::Sqlite, &driver, &q, &s, &[1, 2], 6),
        )
        .await,
        "ids",
    );
    let q = query(vec![]);
    let scope_plan = plan(
        &mut conn,
        candidates_of(Dialect::Sqlite, &Driver::Scope, &q, &s, 1, 10, 6),
    )
    .await;
    no_scan(&scope_plan, "scope");
    no_sort(&scope_plan, "scope");
}

#[test]
fn a_wildcard_value_is_looked_up_from_its_literal_prefix() {
    assert_eq!(literal_prefix("web-*-prod"), "web-");
    assert_eq!(literal_prefix("*7"), "");
    assert_eq!(literal_prefix("a\\*b?"), "a*b");
    assert_eq!(model::filter::literal("a\\*b"), "a*b");
}

/// A page's documents are read by primary key, in the order of the candidates (launch order),
/// however many candidates a chunk holds: never through `instances_scope` with a sort of the
/// documents after (a temporary b-tree of a page of ~2 KB documents, spilled to a temp file,
/// which cost more than reading them).
#[tokio::test]
async fn a_page_reads_its_documents_by_primary_key_without_a_sort() {
    let mut conn = schema().await;
    let s = scope();
    let ids = vec!["i-1".to_string(), "i-2".into()];
    let drivers = [
        Driver::Ranges {
            index: 0,
            name: "metadata-options.http-tokens",
            values: vec!["required".into()],
        },
        Driver::Scan {
            index: 0,
            name: "metadata-options.http-tokens",
        },
        Driver::Scope,
        Driver::Ids(&ids),
    ];
    for driver in &drivers {
        for (filters, candidates) in [
            (vec![f("metadata-options.http-tokens", &["required"])], 1001),
            (
                vec![
                    f("metadata-options.http-tokens", &["required"]),
                    f("instance-state-name", &["running"]),
                ],
                MAX_CHUNK,
            ),
            (vec![f("metadata-options.http-tokens", &["required"])], 3),
        ] {
            let q = query(filters);
            let pks: Vec<i64> = (11..11 + candidates as i64).collect();
            let passing = plan(
                &mut conn,
                passing_of(Dialect::Sqlite, driver, &q, &s, &pks, 1001),
            )
            .await;
            let what = format!("{driver:?}, {candidates} candidates");
            no_scan(&passing, &what);
            no_sort(&passing, &what);
            assert!(
                passing
                    .iter()
                    .any(|l| l.starts_with("SEARCH i USING INTEGER PRIMARY KEY")),
                "{what}: documents by primary key: {passing:?}"
            );
        }
    }
}
