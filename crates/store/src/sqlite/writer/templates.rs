//! Launch templates, their versions and tags.

use super::documents::TEMPLATES;
use super::trips::counted;
use super::{job, Job};
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
    .execute(counted(conn))
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
            .fetch_optional(counted(conn))
            .await?;
            if taken.is_some() {
                return Err(Ec2Error::InvalidLaunchTemplateNameAlreadyExists.into());
            }
            let name = [("name", t.name.as_str())];
            TEMPLATES
                .insert(conn, &scope, &t.launch_template_id, &t, &t.tags, &name)
                .await?;
            insert_version(conn, &v).await
        })
    })
}

pub fn update_template(
    scope: Scope,
    id: String,
    f: TemplateMutation,
    reply: oneshot::Sender<Result<(LaunchTemplate, Option<LaunchTemplateVersion>)>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let before: LaunchTemplate = TEMPLATES.get(conn, &scope, &id).await?;
            let mut after = before.clone();
            let version = f(&mut after)?;
            let tags = (before.tags.as_slice(), after.tags.as_slice());
            TEMPLATES.replace(conn, &scope, &id, &after, tags).await?;
            if let Some(v) = &version {
                insert_version(conn, v).await?;
            }
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
            let t: LaunchTemplate = TEMPLATES.get(conn, &scope, &id).await?;
            sqlx::query("DELETE FROM launch_template_versions WHERE launch_template_id = ?")
                .bind(&id)
                .execute(counted(conn))
                .await?;
            TEMPLATES.delete(conn, &id).await?;
            Ok(t)
        })
    })
}
