//! The IAM registry's documents, written and deleted together.

use super::trips::counted;
use super::{job, Job};
use crate::Result;
use tokio::sync::oneshot;

pub fn write_iam(
    puts: crate::IamRecords,
    deletes: Vec<crate::IamKey>,
    reply: oneshot::Sender<Result<()>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            for (account, kind, name) in &deletes {
                sqlx::query("DELETE FROM iam_records WHERE account = ? AND kind = ? AND name = ?")
                    .bind(account)
                    .bind(kind)
                    .bind(name)
                    .execute(counted(conn))
                    .await?;
            }
            for ((account, kind, name), doc) in &puts {
                sqlx::query(
                    "INSERT INTO iam_records (account, kind, name, doc) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (account, kind, name) DO UPDATE SET doc = excluded.doc",
                )
                .bind(account)
                .bind(kind)
                .bind(name)
                .bind(doc)
                .execute(counted(conn))
                .await?;
            }
            Ok(())
        })
    })
}
