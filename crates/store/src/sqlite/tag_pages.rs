//! DescribeTags' pages on SQLite: the plan (`crate::pages::tags`) run on one read-only
//! connection.

use crate::tags::{TagPage, TagQuery};
use crate::Result;
use model::Scope;
use sqlx::SqlitePool;

pub async fn describe_tags(pool: &SqlitePool, scope: &Scope, q: &TagQuery) -> Result<TagPage> {
    let mut conn = pool.acquire().await?;
    crate::pages::tags::describe_tags(&mut super::pages::Connection(&mut conn), scope, q).await
}

#[cfg(test)]
mod tests {
    //! SQLite held to the indexes for every DescribeTags filter as the page's driver.
    use crate::pages::sql::{Dialect, Stmt};
    use crate::pages::tags::{push_page, Driver};
    use crate::tags::TagQuery;
    use model::filter::Filter;
    use model::Scope;
    use sqlx::{Connection, SqliteConnection};

    async fn plan(conn: &mut SqliteConnection, q: &TagQuery, driver: &Driver) -> Vec<String> {
        let mut s = Stmt::new(Dialect::Sqlite, "EXPLAIN QUERY PLAN ");
        push_page(&mut s, &Scope::new("123456789012", "us-east-1"), q, driver).unwrap();
        let rows = crate::sqlite::pages::query(&s)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        rows.iter()
            .map(|r| sqlx::Row::get::<String, _>(r, 3))
            .collect()
    }

    fn f(name: &str, values: &[&str]) -> Filter {
        Filter {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn every_driver_reads_an_index_range_and_ranges_are_merged() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        crate::sqlite::schema::migrate(&mut conn).await.unwrap();
        let extra = f("value", &["a*"]);
        for (filter, column) in [
            (f("key", &["Name"]), "key"),
            (f("key", &["Name", "env", "team"]), "key"),
            (f("tag:Name", &["web"]), "key"),
            (f("resource-type", &["instance"]), "resource_type"),
            (f("resource-type", &["instance", "vpc"]), "resource_type"),
        ] {
            let q = TagQuery {
                filters: vec![filter.clone(), extra.clone()],
                after: Some(3),
                limit: Some(5),
            };
            let values = match filter.name.strip_prefix("tag:") {
                Some(key) => vec![key.to_string()],
                None => filter.values.clone(),
            };
            let driver = Driver::Ranges { column, values };
            let plan = plan(&mut conn, &q, &driver).await;
            assert!(
                plan.iter()
                    .all(|l| !l.starts_with("SCAN") && !l.contains("TEMP B-TREE")),
                "{filter:?}: {plan:?}"
            );
            assert!(
                plan.iter()
                    .filter(|l| l.starts_with("SEARCH"))
                    .all(|l| l.contains(&format!("{column}=? AND pos>?"))),
                "{filter:?}: one range per value, after the cursor: {plan:?}"
            );
        }
        let q = TagQuery {
            filters: vec![f("resource-id", &["i-1", "vpc-2"])],
            after: None,
            limit: Some(5),
        };
        let plan = plan(
            &mut conn,
            &q,
            &Driver::Resources(vec!["i-1".into(), "vpc-2".into()]),
        )
        .await;
        assert!(plan.iter().all(|l| !l.starts_with("SCAN")), "{plan:?}");
        assert!(plan.iter().any(|l| l.contains("resource_id=?")), "{plan:?}");
    }
}
