//! The images an account registers ([`ImageStore`]); the catalogue's public images live in
//! the model.

use crate::Result;
use async_trait::async_trait;
use model::image::Image;
use model::{Ec2Error, Scope};

/// A change to an image.
pub type ImageMutation = Box<dyn FnOnce(&mut Image) -> std::result::Result<(), Ec2Error> + Send>;

#[async_trait]
pub trait ImageStore: Send + Sync {
    async fn put_image(&self, scope: &Scope, image: Image) -> Result<()>;
    async fn images(&self, scope: &Scope) -> Result<Vec<Image>>;
    async fn update_image(&self, scope: &Scope, image_id: &str, f: ImageMutation) -> Result<Image>;
}
