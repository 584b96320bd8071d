//! The images an account registers, and their tags.

use super::documents::IMAGES;
use super::{job, Job};
use crate::{ImageMutation, Result};
use model::image::Image;
use model::Scope;
use tokio::sync::oneshot;

pub fn put_image(scope: Scope, image: Image, reply: oneshot::Sender<Result<()>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            IMAGES
                .insert(conn, &scope, &image.image_id, &image, &image.tags, &[])
                .await
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
            let before: Image = IMAGES.get(conn, &scope, &id).await?;
            let mut after = before.clone();
            f(&mut after)?;
            let tags = (before.tags.as_slice(), after.tags.as_slice());
            IMAGES.replace(conn, &scope, &id, &after, tags).await?;
            Ok(after)
        })
    })
}
