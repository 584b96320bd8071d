//! Documents kept per scope by id (images, launch templates, VPCs, subnets): their rows have
//! one shape, so their writes share one translation; and the tags rows of any resource,
//! rewritten by difference.

use super::trips::counted;
use crate::sqlite::reads::decode;
use crate::Result;
use model::tags::Tag;
use model::{Ec2Error, Scope};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::SqliteConnection;

/// A table of documents, one per resource, by id and scope.
pub(super) struct Documents {
    table: &'static str,
    id_column: &'static str,
    /// The type its resources' tags are listed under (DescribeTags).
    resource_type: &'static str,
    /// The error when the scope has no resource with an id.
    missing: fn(String) -> Ec2Error,
}

pub(super) const IMAGES: Documents = Documents {
    table: "images",
    id_column: "image_id",
    resource_type: "image",
    missing: Ec2Error::InvalidAmiIdNotFound,
};

pub(super) const TEMPLATES: Documents = Documents {
    table: "launch_templates",
    id_column: "launch_template_id",
    resource_type: "launch-template",
    missing: Ec2Error::InvalidLaunchTemplateIdNotFound,
};

pub(super) const VPCS: Documents = Documents {
    table: "vpcs",
    id_column: "vpc_id",
    resource_type: "vpc",
    missing: Ec2Error::InvalidVpcIdNotFound,
};

pub(super) const SUBNETS: Documents = Documents {
    table: "subnets",
    id_column: "subnet_id",
    resource_type: "subnet",
    missing: Ec2Error::InvalidSubnetIdNotFound,
};

impl Documents {
    /// The scope's document with this id, if there is one.
    pub(super) async fn find<T: DeserializeOwned>(
        &self,
        conn: &mut SqliteConnection,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<T>> {
        let sql = format!(
            "SELECT doc FROM {} WHERE {} = ? AND account = ? AND region = ?",
            self.table, self.id_column
        );
        let doc: Option<(String,)> = sqlx::query_as(&sql)
            .bind(id)
            .bind(&scope.account)
            .bind(&scope.region)
            .fetch_optional(counted(conn))
            .await?;
        doc.map(|(d,)| decode(&d)).transpose()
    }

    /// The scope's document with this id; none is the resource's `NotFound`.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        conn: &mut SqliteConnection,
        scope: &Scope,
        id: &str,
    ) -> Result<T> {
        match self.find(conn, scope, id).await? {
            Some(doc) => Ok(doc),
            None => Err((self.missing)(id.to_string()).into()),
        }
    }

    /// A new document and its tags; `columns` are the table's further columns and their
    /// values.
    pub(super) async fn insert<T: Serialize>(
        &self,
        conn: &mut SqliteConnection,
        scope: &Scope,
        id: &str,
        doc: &T,
        tags: &[Tag],
        columns: &[(&str, &str)],
    ) -> Result<()> {
        let names: String = columns.iter().map(|(c, _)| format!("{c}, ")).collect();
        let marks = "?, ".repeat(columns.len());
        let sql = format!(
            "INSERT INTO {} ({}, account, region, {names}doc) VALUES (?, ?, ?, {marks}?)",
            self.table, self.id_column
        );
        let mut q = sqlx::query(&sql)
            .bind(id)
            .bind(&scope.account)
            .bind(&scope.region);
        for (_, value) in columns {
            q = q.bind(*value);
        }
        q.bind(serde_json::to_string(doc)?)
            .execute(counted(conn))
            .await?;
        sync_tags(conn, id, self.resource_type, scope, &[], tags).await
    }

    /// A changed document, and its tags rows by difference.
    pub(super) async fn replace<T: Serialize>(
        &self,
        conn: &mut SqliteConnection,
        scope: &Scope,
        id: &str,
        doc: &T,
        tags: (&[Tag], &[Tag]),
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET doc = ? WHERE {} = ?",
            self.table, self.id_column
        );
        sqlx::query(&sql)
            .bind(serde_json::to_string(doc)?)
            .bind(id)
            .execute(counted(conn))
            .await?;
        sync_tags(conn, id, self.resource_type, scope, tags.0, tags.1).await
    }

    /// A document gone, and its tags with it.
    pub(super) async fn delete(&self, conn: &mut SqliteConnection, id: &str) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE {} = ?", self.table, self.id_column);
        for sql in [sql.as_str(), "DELETE FROM tags WHERE resource_id = ?"] {
            sqlx::query(sql).bind(id).execute(counted(conn)).await?;
        }
        Ok(())
    }
}

/// The tags rows of a resource, from its tags `before` to `after`.
const INSERT_TAG: &str =
    "INSERT INTO tags (resource_id, resource_type, account, region, key, value) ";
const UPSERT_TAG: &str = " ON CONFLICT (resource_id, key) DO UPDATE SET value = excluded.value";

/// The tags of new resources of one type, each `(resource id, scope, tag)`, in as few
/// statements as their number allows.
pub(super) async fn insert_tags(
    conn: &mut SqliteConnection,
    resource_type: &'static str,
    tags: &[(&str, &Scope, &Tag)],
) -> Result<()> {
    super::rows::insert(
        conn,
        INSERT_TAG,
        UPSERT_TAG,
        6,
        tags,
        |mut b, (id, scope, t)| {
            b.push_bind(*id)
                .push_bind(resource_type)
                .push_bind(&scope.account)
                .push_bind(&scope.region)
                .push_bind(&t.key)
                .push_bind(&t.value);
        },
    )
    .await
}

pub(super) async fn sync_tags(
    conn: &mut SqliteConnection,
    resource_id: &str,
    resource_type: &str,
    scope: &Scope,
    before: &[Tag],
    after: &[Tag],
) -> Result<()> {
    for t in before {
        if !after.iter().any(|a| a.key == t.key) {
            sqlx::query("DELETE FROM tags WHERE resource_id = ? AND key = ?")
                .bind(resource_id)
                .bind(&t.key)
                .execute(counted(conn))
                .await?;
        }
    }
    for t in after {
        if !before.contains(t) {
            sqlx::query(
                "INSERT INTO tags (resource_id, resource_type, account, region, key, value) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (resource_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(resource_id)
            .bind(resource_type)
            .bind(&scope.account)
            .bind(&scope.region)
            .bind(&t.key)
            .bind(&t.value)
            .execute(counted(conn))
            .await?;
        }
    }
    Ok(())
}
