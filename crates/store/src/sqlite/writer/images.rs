//! The images an account registers, and their tags.

use super::{job, sync_tags, Job};
use crate::sqlite::reads::decode;
use crate::{ImageMutation, Result};
use model::image::Image;
use model::{Ec2Error, Scope};
use tokio::sync::oneshot;

pub fn put_image(scope: Scope, image: Image, reply: oneshot::Sender<Result<()>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            sqlx::query("INSERT INTO images (image_id, account, region, doc) VALUES (?, ?, ?, ?)")
                .bind(&image.image_id)
                .bind(&scope.account)
                .bind(&scope.region)
                .bind(serde_json::to_string(&image)?)
                .execute(&mut *conn)
                .await?;
            sync_tags(conn, &image.image_id, "image", &scope, &[], &image.tags).await
        })
    })
}

pub fn update_image(
    scope: Scope,
    id: String,
    f: ImageMutation,
    reply: oneshot::Sender<Result<Image>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let doc: Option<(String,)> = sqlx::query_as(
                "SELECT doc FROM images WHERE image_id = ? AND account = ? AND region = ?",
            )
            .bind(&id)
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_optional(&mut *conn)
            .await?;
            let Some((doc,)) = doc else {
                return Err(Ec2Error::InvalidAmiIdNotFound(id).into());
            };
            let before: Image = decode(&doc)?;
            let mut after = before.clone();
            f(&mut after)?;
            sqlx::query("UPDATE images SET doc = ? WHERE image_id = ?")
                .bind(serde_json::to_string(&after)?)
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            sync_tags(conn, &id, "image", &scope, &before.tags, &after.tags).await?;
            Ok(after)
        })
    })
}
