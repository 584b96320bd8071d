//! An account's metadata defaults: read, changed by the model, written back.

use super::trips::counted;
use super::{job, Job};
use crate::sqlite::reads;
use crate::{DefaultsMutation, Result};
use model::Scope;
use tokio::sync::oneshot;

pub fn modify_defaults(
    scope: Scope,
    f: DefaultsMutation,
    reply: oneshot::Sender<Result<model::AccountDefaults>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let mut d = reads::defaults(counted(conn), &scope).await?;
            f(&mut d)?;
            sqlx::query(
                "INSERT INTO account_defaults (account, region, doc) VALUES (?, ?, ?)
                 ON CONFLICT (account, region) DO UPDATE SET doc = excluded.doc",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(serde_json::to_string(&d)?)
            .execute(counted(conn))
            .await?;
            Ok(d)
        })
    })
}
