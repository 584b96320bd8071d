//! The records kept as one document per key — account defaults, images, launch templates
//! and their versions, IAM documents — on PostgreSQL, as the SQLite backend keeps them
//! (`sqlite::reads`, `sqlite::writer`): a write reads under the write lock, lets the
//! mutation decide once, and writes back; images and templates keep their tags rows in step
//! (`tags`).

use super::store::{decode, encode, PgStore};
use super::tags::{delete_tags, sync_tags};
use crate::{
    DefaultsMutation, DefaultsStore, IamKey, IamRecords, IamStore, IamWritten, ImageMutation,
    ImageStore, Result, TemplateMutation, TemplateStore,
};
use model::image::Image;
use model::launch_template::{LaunchTemplate, LaunchTemplateVersion};
use model::{AccountDefaults, Ec2Error, Scope};
use serde::de::DeserializeOwned;
use sqlx::{PgConnection, PgExecutor};

/// The type images' tags are listed under (DescribeTags).
const IMAGE: &str = "image";
/// The type launch templates' tags are listed under.
const TEMPLATE: &str = "launch-template";

/// The scope's defaults, or the default ones if it never changed them.
pub(super) async fn read_defaults<'e>(
    conn: impl PgExecutor<'e>,
    scope: &Scope,
) -> Result<AccountDefaults> {
    let doc: Option<String> = sqlx::query_scalar(
        "SELECT doc::text FROM account_defaults WHERE account = $1 AND region = $2",
    )
    .bind(&scope.account)
    .bind(&scope.region)
    .fetch_optional(conn)
    .await?;
    doc.map_or_else(|| Ok(AccountDefaults::default()), |d| decode(&d))
}

/// The scope's document in `table` under `id` (the table's key column `id_column`), if any.
async fn find<T: DeserializeOwned>(
    conn: &mut PgConnection,
    table: &str,
    id_column: &str,
    scope: &Scope,
    id: &str,
) -> Result<Option<T>> {
    let sql = format!(
        "SELECT doc::text FROM {table} WHERE {id_column} = $1 AND account = $2 AND region = $3"
    );
    let doc: Option<String> = sqlx::query_scalar(&sql)
        .bind(id)
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_optional(conn)
        .await?;
    doc.map(|d| decode(&d)).transpose()
}

async fn image(conn: &mut PgConnection, scope: &Scope, id: &str) -> Result<Image> {
    find(conn, "images", "image_id", scope, id)
        .await?
        .ok_or_else(|| Ec2Error::InvalidAmiIdNotFound(id.to_string()).into())
}

async fn template(conn: &mut PgConnection, scope: &Scope, id: &str) -> Result<LaunchTemplate> {
    find(conn, "launch_templates", "launch_template_id", scope, id)
        .await?
        .ok_or_else(|| Ec2Error::InvalidLaunchTemplateIdNotFound(id.to_string()).into())
}

async fn insert_version(conn: &mut PgConnection, v: &LaunchTemplateVersion) -> Result<()> {
    sqlx::query(
        "INSERT INTO launch_template_versions (launch_template_id, version, doc) \
         VALUES ($1, $2, $3::jsonb)",
    )
    .bind(&v.launch_template_id)
    .bind(v.version as i64)
    .bind(encode(v)?)
    .execute(conn)
    .await?;
    Ok(())
}

/// The documents of a query's rows, in its order.
fn decode_all<T: DeserializeOwned>(docs: Vec<String>) -> Result<Vec<T>> {
    docs.iter().map(|d| decode(d)).collect()
}

#[async_trait::async_trait]
impl DefaultsStore for PgStore {
    async fn defaults(&self, scope: &Scope) -> Result<AccountDefaults> {
        read_defaults(self.pool(), scope).await
    }

    async fn modify_defaults(&self, scope: &Scope, f: DefaultsMutation) -> Result<AccountDefaults> {
        let mut tx = self.begin_write().await?;
        let mut d = read_defaults(&mut *tx, scope).await?;
        f(&mut d)?;
        sqlx::query(
            "INSERT INTO account_defaults (account, region, doc) VALUES ($1, $2, $3::jsonb) \
             ON CONFLICT (account, region) DO UPDATE SET doc = excluded.doc",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(encode(&d)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(d)
    }
}

#[async_trait::async_trait]
impl ImageStore for PgStore {
    async fn put_image(&self, scope: &Scope, image: Image) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO images (image_id, account, region, doc) VALUES ($1, $2, $3, $4::jsonb)",
        )
        .bind(&image.image_id)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(encode(&image)?)
        .execute(&mut *tx)
        .await?;
        sync_tags(&mut tx, &image.image_id, IMAGE, scope, &[], &image.tags).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn images(&self, scope: &Scope) -> Result<Vec<Image>> {
        let docs: Vec<String> = sqlx::query_scalar(
            "SELECT doc::text FROM images WHERE account = $1 AND region = $2 ORDER BY image_id",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(self.pool())
        .await?;
        decode_all(docs)
    }

    async fn update_image(&self, scope: &Scope, image_id: &str, f: ImageMutation) -> Result<Image> {
        let mut tx = self.begin_write().await?;
        let before = image(&mut tx, scope, image_id).await?;
        let mut after = before.clone();
        f(&mut after)?;
        sqlx::query("UPDATE images SET doc = $1::jsonb WHERE image_id = $2")
            .bind(encode(&after)?)
            .bind(image_id)
            .execute(&mut *tx)
            .await?;
        sync_tags(&mut tx, image_id, IMAGE, scope, &before.tags, &after.tags).await?;
        tx.commit().await?;
        Ok(after)
    }
}

#[async_trait::async_trait]
impl TemplateStore for PgStore {
    async fn create_template(
        &self,
        scope: &Scope,
        t: LaunchTemplate,
        v: LaunchTemplateVersion,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT launch_template_id FROM launch_templates \
             WHERE account = $1 AND region = $2 AND name = $3",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&t.name)
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(Ec2Error::InvalidLaunchTemplateNameAlreadyExists.into());
        }
        sqlx::query(
            "INSERT INTO launch_templates (launch_template_id, account, region, name, doc) \
             VALUES ($1, $2, $3, $4, $5::jsonb)",
        )
        .bind(&t.launch_template_id)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(&t.name)
        .bind(encode(&t)?)
        .execute(&mut *tx)
        .await?;
        sync_tags(
            &mut tx,
            &t.launch_template_id,
            TEMPLATE,
            scope,
            &[],
            &t.tags,
        )
        .await?;
        insert_version(&mut tx, &v).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn templates(&self, scope: &Scope) -> Result<Vec<LaunchTemplate>> {
        let docs: Vec<String> = sqlx::query_scalar(
            "SELECT doc::text FROM launch_templates WHERE account = $1 AND region = $2 ORDER BY pos",
        )
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(self.pool())
        .await?;
        decode_all(docs)
    }

    async fn template_versions(
        &self,
        scope: &Scope,
        template_id: &str,
    ) -> Result<Vec<LaunchTemplateVersion>> {
        let owned: Option<String> = sqlx::query_scalar(
            "SELECT launch_template_id FROM launch_templates \
             WHERE launch_template_id = $1 AND account = $2 AND region = $3",
        )
        .bind(template_id)
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_optional(self.pool())
        .await?;
        if owned.is_none() {
            return Err(Ec2Error::InvalidLaunchTemplateIdNotFound(template_id.to_string()).into());
        }
        let docs: Vec<String> = sqlx::query_scalar(
            "SELECT doc::text FROM launch_template_versions \
             WHERE launch_template_id = $1 ORDER BY version",
        )
        .bind(template_id)
        .fetch_all(self.pool())
        .await?;
        decode_all(docs)
    }

    async fn update_template(
        &self,
        scope: &Scope,
        template_id: &str,
        f: TemplateMutation,
    ) -> Result<(LaunchTemplate, Option<LaunchTemplateVersion>)> {
        let mut tx = self.begin_write().await?;
        let before = template(&mut tx, scope, template_id).await?;
        let mut after = before.clone();
        let version = f(&mut after)?;
        sqlx::query("UPDATE launch_templates SET doc = $1::jsonb WHERE launch_template_id = $2")
            .bind(encode(&after)?)
            .bind(template_id)
            .execute(&mut *tx)
            .await?;
        sync_tags(
            &mut tx,
            template_id,
            TEMPLATE,
            scope,
            &before.tags,
            &after.tags,
        )
        .await?;
        if let Some(v) = &version {
            insert_version(&mut tx, v).await?;
        }
        tx.commit().await?;
        Ok((after, version))
    }

    async fn delete_template(&self, scope: &Scope, template_id: &str) -> Result<LaunchTemplate> {
        let mut tx = self.begin_write().await?;
        let t = template(&mut tx, scope, template_id).await?;
        for sql in [
            "DELETE FROM launch_template_versions WHERE launch_template_id = $1",
            "DELETE FROM launch_templates WHERE launch_template_id = $1",
        ] {
            sqlx::query(sql).bind(template_id).execute(&mut *tx).await?;
        }
        delete_tags(&mut tx, template_id).await?;
        tx.commit().await?;
        Ok(t)
    }
}

#[async_trait::async_trait]
impl IamStore for PgStore {
    async fn iam_records(&self) -> Result<IamRecords> {
        let rows: Vec<(String, String, String, String)> =
            sqlx::query_as("SELECT account, kind, name, doc::text FROM iam_records")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(a, k, n, d)| ((a, k, n), d))
            .collect())
    }

    /// Run again if the database rolls it back for another's sake (`retry`): the records
    /// are data.
    async fn write_iam(
        &self,
        puts: IamRecords,
        deletes: Vec<IamKey>,
        from: Option<u64>,
    ) -> Result<IamWritten> {
        super::retry::retrying_store(|| self.write_iam_once(&puts, &deletes, from)).await
    }

    async fn iam_revision(&self) -> Result<Option<u64>> {
        let r: i64 = sqlx::query_scalar("SELECT revision FROM iam_revision")
            .fetch_one(self.pool())
            .await?;
        Ok(Some(r as u64))
    }
}

impl PgStore {
    async fn write_iam_once(
        &self,
        puts: &IamRecords,
        deletes: &[IamKey],
        from: Option<u64>,
    ) -> Result<IamWritten> {
        let mut tx = self.begin_write().await?;
        // The revision first. Other nodes see by it that IAM changed (`Principals::refresh`),
        // and its row's lock makes IAM writes wait for each other: under READ COMMITTED the
        // one that waited then reads the other's revision, and writes nothing.
        // From no revision (`None`): whatever the revision is.
        let bumped: Option<i64> = sqlx::query_scalar(
            "UPDATE iam_revision SET revision = revision + 1 \
             WHERE $1::BIGINT IS NULL OR revision = $1 RETURNING revision",
        )
        .bind(from.map(|r| r as i64))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(revision) = bumped else {
            tx.rollback().await?;
            return Ok(IamWritten::Stale);
        };
        for (account, kind, name) in deletes {
            sqlx::query("DELETE FROM iam_records WHERE account = $1 AND kind = $2 AND name = $3")
                .bind(account)
                .bind(kind)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        for ((account, kind, name), doc) in puts {
            sqlx::query(
                "INSERT INTO iam_records (account, kind, name, doc) VALUES ($1, $2, $3, $4::jsonb) \
                 ON CONFLICT (account, kind, name) DO UPDATE SET doc = excluded.doc",
            )
            .bind(account)
            .bind(kind)
            .bind(name)
            .bind(doc)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(IamWritten::At(Some(revision as u64)))
    }
}
