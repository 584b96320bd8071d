//! The filter rows of instances (`instance_attrs`, the attributes `pages::kept_attributes`
//! names), kept by every write of an instance as SQLite's writer keeps them, so that a
//! DescribeInstances page reads through their index (`postgres::pages`) what it returns.
//! Each statement takes the rows of many instances as arrays (`UNNEST`): a launch of a
//! thousand writes its ~15,000 rows in one.

use crate::pages::changed_attributes;
use crate::Result;
use model::{Instance, Scope};
use sqlx::PgConnection;

/// Filter rows to delete, each `(pk, name, value)`, and to add, each with its instance's
/// scope, gathered over a write's instances and written together ([`AttrRows::write`]).
#[derive(Default)]
pub(super) struct AttrRows {
    gone: Vec<(i64, String, String)>,
    new: Vec<(i64, String, String, Scope)>,
}

impl AttrRows {
    /// The rows that change from `before` (none: a launch) to `after`, the instance at `pk`.
    pub fn add(&mut self, pk: i64, before: Option<&Instance>, after: &Instance) {
        let (gone, new) = changed_attributes(before, after);
        for (name, value) in gone {
            self.gone.push((pk, name, value));
        }
        for (name, value) in new {
            self.new.push((pk, name, value, after.scope.clone()));
        }
    }

    /// Write them (the scopes' rows in `scopes` exist: [`ensure_scope`]), and forget them.
    pub async fn write(&mut self, conn: &mut PgConnection) -> Result<()> {
        if !self.gone.is_empty() {
            let (pks, names, values) = columns(std::mem::take(&mut self.gone));
            sqlx::query(
                "DELETE FROM instance_attrs WHERE (pk, name, value) IN \
                 (SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[]))",
            )
            .bind(pks)
            .bind(names)
            .bind(values)
            .execute(&mut *conn)
            .await?;
        }
        if !self.new.is_empty() {
            let new = std::mem::take(&mut self.new);
            let (accounts, regions): (Vec<String>, Vec<String>) = new
                .iter()
                .map(|(_, _, _, s)| (s.account.clone(), s.region.clone()))
                .unzip();
            let (pks, names, values) =
                columns(new.into_iter().map(|(p, n, v, _)| (p, n, v)).collect());
            sqlx::query(
                "INSERT INTO instance_attrs (pk, scope, name, value) \
                 SELECT u.pk, s.id, u.name, u.value \
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                     AS u(pk, name, value, account, region) \
                 JOIN scopes s ON s.account = u.account AND s.region = u.region \
                 ON CONFLICT DO NOTHING",
            )
            .bind(pks)
            .bind(names)
            .bind(values)
            .bind(accounts)
            .bind(regions)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// Rows as the three arrays `UNNEST` takes.
fn columns(rows: Vec<(i64, String, String)>) -> (Vec<i64>, Vec<String>, Vec<String>) {
    let mut out = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    for (pk, name, value) in rows {
        out.0.push(pk);
        out.1.push(name);
        out.2.push(value);
    }
    out
}

/// The scope's row in `scopes`, which the filter rows name by id (made at its first launch).
pub(super) async fn ensure_scope(conn: &mut PgConnection, scope: &Scope) -> Result<()> {
    sqlx::query("INSERT INTO scopes (account, region) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(&scope.account)
        .bind(&scope.region)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every instance's filter rows, for a database written before they were kept (schema 5):
/// read in launch order a thousand at a time, in the migration's transaction.
pub(super) async fn backfill(conn: &mut PgConnection) -> std::result::Result<(), String> {
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT pk, doc::text FROM instances WHERE pk > $1 ORDER BY pk LIMIT 1000",
        )
        .bind(after)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok(());
        };
        after = last;
        let mut attrs = AttrRows::default();
        for (pk, doc) in rows {
            let i: Instance =
                serde_json::from_str(&doc).map_err(|e| format!("instance at {pk}: {e}"))?;
            attrs.add(pk, None, &i);
        }
        attrs.write(conn).await.map_err(|e| e.to_string())?;
    }
}
