//! Launch templates, their versions and tags.

use super::{job, sync_tags, Job};
use crate::sqlite::reads::decode;
use crate::{Result, TemplateMutation};
use model::launch_template::{LaunchTemplate, LaunchTemplateVersion};
use model::{Ec2Error, Scope};
use sqlx::SqliteConnection;
use tokio::sync::oneshot;

async fn insert_version(conn: &mut SqliteConnection, v: &LaunchTemplateVersion) -> Result<()> {
    sqlx::query(
        "INSERT INTO launch_template_versions (launch_template_id, version, doc) VALUES (?, ?, ?)",
    )
    .bind(&v.launch_template_id)
    .bind(v.version as i64)
    .bind(serde_json::to_string(v)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub fn create_template(
    scope: Scope,
    t: LaunchTemplate,
    v: LaunchTemplateVersion,
    reply: oneshot::Sender<Result<()>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let taken: Option<(String,)> = sqlx::query_as(
                "SELECT launch_template_id FROM launch_templates WHERE account = ? AND region = ? AND name = ?",
            )
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(&t.name)
            .fetch_optional(&mut *conn)
            .await?;
            if taken.is_some() {
                return Err(Ec2Error::InvalidLaunchTemplateNameAlreadyExists.into());
            }
            sqlx::query("INSERT INTO launch_templates (launch_template_id, account, region, name, doc) VALUES (?, ?, ?, ?, ?)")
                .bind(&t.launch_template_id)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(&t.name)
                .bind(serde_json::to_string(&t)?)
                .execute(&mut *conn)
                .await?;
            insert_version(conn, &v).await?;
            sync_tags(
                conn,
                &t.launch_template_id,
                "launch-template",
                &scope,
                &[],
                &t.tags,
            )
            .await
        })
    })
}

async fn load_template(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: &str,
) -> Result<LaunchTemplate> {
    let doc: Option<(String,)> = sqlx::query_as(
        "SELECT doc FROM launch_templates WHERE launch_template_id = ? AND account = ? AND region = ?",
    )
    .bind(id)
    .bind(&scope.account)
    .bind(&scope.region)
    .fetch_optional(&mut *conn)
    .await?;
    match doc {
        Some((d,)) => decode(&d),
        None => Err(Ec2Error::InvalidLaunchTemplateIdNotFound(id.to_string()).into()),
    }
}

pub fn update_template(
    scope: Scope,
    id: String,
    f: TemplateMutation,
    reply: oneshot::Sender<Result<(LaunchTemplate, Option<LaunchTemplateVersion>)>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let before = load_template(conn, &scope, &id).await?;
            let mut after = before.clone();
            let version = f(&mut after)?;
            sqlx::query("UPDATE launch_templates SET doc = ? WHERE launch_template_id = ?")
                .bind(serde_json::to_string(&after)?)
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            if let Some(v) = &version {
                insert_version(conn, v).await?;
            }
            sync_tags(
                conn,
                &id,
                "launch-template",
                &scope,
                &before.tags,
                &after.tags,
            )
            .await?;
            Ok((after, version))
        })
    })
}

pub fn delete_template(
    scope: Scope,
    id: String,
    reply: oneshot::Sender<Result<LaunchTemplate>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let t = load_template(conn, &scope, &id).await?;
            for sql in [
                "DELETE FROM launch_template_versions WHERE launch_template_id = ?",
                "DELETE FROM launch_templates WHERE launch_template_id = ?",
                "DELETE FROM tags WHERE resource_id = ?",
            ] {
                sqlx::query(sql).bind(&id).execute(&mut *conn).await?;
            }
            Ok(t)
        })
    })
}
