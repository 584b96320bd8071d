//! The VPCs and subnets accounts create on PostgreSQL ([`NetworkStore`]), beside the
//! catalogue's default ones, as SQLite's backend keeps them (`sqlite::reads`,
//! `sqlite::writer::network`): creations and deletions are decided by the model's closures
//! inside the write, on what it read, so a launch and a deletion cannot cross.

use super::store::{decode, encode, PgStore};
use super::tags::{delete_tags, sync_tags};
use crate::network::{
    self, NetworkStore, SubnetBuilder, SubnetDeletion, TagsMutation, VpcDeletion,
};
use crate::Result;
use model::tags::Tag;
use model::vpc::{Subnet, Vpc};
use model::{Ec2Error, Scope};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::PgConnection;
use std::collections::HashMap;

/// A table of documents, one per VPC or subnet, by id and scope.
struct Table {
    name: &'static str,
    id_column: &'static str,
    /// The type its resources' tags are listed under (DescribeTags).
    resource_type: &'static str,
    /// The error when the scope has no resource with an id.
    missing: fn(String) -> Ec2Error,
}

const VPCS: Table = Table {
    name: "vpcs",
    id_column: "vpc_id",
    resource_type: "vpc",
    missing: Ec2Error::InvalidVpcIdNotFound,
};

const SUBNETS: Table = Table {
    name: "subnets",
    id_column: "subnet_id",
    resource_type: "subnet",
    missing: Ec2Error::InvalidSubnetIdNotFound,
};

/// The scope's document of `table` with this id, if there is one.
async fn find<T: DeserializeOwned>(
    conn: &mut PgConnection,
    table: &Table,
    scope: &Scope,
    id: &str,
) -> Result<Option<T>> {
    let sql = format!(
        "SELECT doc::text FROM {} WHERE {} = $1 AND account = $2 AND region = $3",
        table.name, table.id_column
    );
    let doc: Option<String> = sqlx::query_scalar(&sql)
        .bind(id)
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_optional(&mut *conn)
        .await?;
    doc.map(|d| decode(&d)).transpose()
}

/// A document of `table` gone, and its tags with it.
async fn delete(conn: &mut PgConnection, table: &Table, id: &str) -> Result<()> {
    let sql = format!("DELETE FROM {} WHERE {} = $1", table.name, table.id_column);
    sqlx::query(&sql).bind(id).execute(&mut *conn).await?;
    delete_tags(conn, id).await
}

/// Change the tags of one document of `table`, and its `tags` rows by difference.
async fn retag<T: Serialize + DeserializeOwned>(
    conn: &mut PgConnection,
    scope: &Scope,
    id: &str,
    table: &Table,
    tags_of: fn(&mut T) -> &mut Vec<Tag>,
    f: TagsMutation,
) -> Result<()> {
    let Some(mut doc) = find::<T>(conn, table, scope, id).await? else {
        return Err((table.missing)(id.to_string()).into());
    };
    let before = tags_of(&mut doc).clone();
    f(tags_of(&mut doc))?;
    let sql = format!(
        "UPDATE {} SET doc = $1::jsonb WHERE {} = $2",
        table.name, table.id_column
    );
    sqlx::query(&sql)
        .bind(encode(&doc)?)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let after = tags_of(&mut doc).clone();
    sync_tags(conn, id, table.resource_type, scope, &before, &after).await
}

/// A VPC of the scope by id: the Region's default VPC, or one the account made.
async fn find_vpc(conn: &mut PgConnection, scope: &Scope, id: &str) -> Result<Option<Vpc>> {
    match network::default_vpc(scope, id) {
        Some(v) => Ok(Some(v)),
        None => find(conn, &VPCS, scope, id).await,
    }
}

/// A subnet of the scope by id: one of the Region's default subnets, or one the account made.
async fn find_subnet(conn: &mut PgConnection, scope: &Scope, id: &str) -> Result<Option<Subnet>> {
    match network::default_subnet(scope, id) {
        Some(s) => Ok(Some(s)),
        None => find(conn, &SUBNETS, scope, id).await,
    }
}

/// The subnets of a VPC of the scope (its default subnets first, for the default VPC).
async fn subnets_of(conn: &mut PgConnection, scope: &Scope, vpc_id: &str) -> Result<Vec<Subnet>> {
    let mut out = network::default_subnets_of(scope, vpc_id);
    let docs: Vec<String> = sqlx::query_scalar(
        "SELECT doc::text FROM subnets WHERE vpc_id = $1 AND account = $2 AND region = $3 ORDER BY pos",
    )
    .bind(vpc_id)
    .bind(&scope.account)
    .bind(&scope.region)
    .fetch_all(&mut *conn)
    .await?;
    for d in docs {
        out.push(decode(&d)?);
    }
    Ok(out)
}

/// The documents of `table` in the scope, in creation order.
async fn all<T: DeserializeOwned>(store: &PgStore, table: &Table, scope: &Scope) -> Result<Vec<T>> {
    let sql = format!(
        "SELECT doc::text FROM {} WHERE account = $1 AND region = $2 ORDER BY pos",
        table.name
    );
    let docs: Vec<String> = sqlx::query_scalar(&sql)
        .bind(&scope.account)
        .bind(&scope.region)
        .fetch_all(store.pool())
        .await?;
    docs.iter().map(|d| decode(d)).collect()
}

/// How many addresses of a subnet instances hold: every instance not terminated (one that
/// has reached `terminated` and has its termination time), as SQLite's launch and deletion
/// count them.
async fn held_addresses(conn: &mut PgConnection, subnet_id: &str) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM instances WHERE subnet_id = $1
         AND NOT (terminated_at_ms IS NOT NULL AND state = 'terminated')",
    )
    .bind(subnet_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n as u64)
}

#[async_trait::async_trait]
impl NetworkStore for PgStore {
    async fn create_vpc(&self, scope: &Scope, vpc: Vpc) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO vpcs (vpc_id, account, region, doc) VALUES ($1, $2, $3, $4::jsonb)",
        )
        .bind(&vpc.vpc_id)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(encode(&vpc)?)
        .execute(&mut *tx)
        .await?;
        sync_tags(&mut tx, &vpc.vpc_id, "vpc", scope, &[], &vpc.tags).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn vpcs(&self, scope: &Scope) -> Result<Vec<Vpc>> {
        all(self, &VPCS, scope).await
    }

    async fn delete_vpc(&self, scope: &Scope, vpc_id: &str, check: VpcDeletion) -> Result<Vpc> {
        let mut tx = self.begin_write().await?;
        let vpc = find_vpc(&mut tx, scope, vpc_id)
            .await?
            .ok_or_else(|| Ec2Error::InvalidVpcIdNotFound(vpc_id.to_string()))?;
        let subnets = subnets_of(&mut tx, scope, vpc_id).await?.len();
        check(&vpc, subnets)?;
        delete(&mut tx, &VPCS, vpc_id).await?;
        tx.commit().await?;
        Ok(vpc)
    }

    async fn create_subnet(
        &self,
        scope: &Scope,
        vpc_id: &str,
        build: SubnetBuilder,
    ) -> Result<Subnet> {
        let mut tx = self.begin_write().await?;
        let vpc = find_vpc(&mut tx, scope, vpc_id)
            .await?
            .ok_or_else(|| Ec2Error::InvalidVpcIdNotFound(vpc_id.to_string()))?;
        let siblings = subnets_of(&mut tx, scope, vpc_id).await?;
        let subnet = build(&vpc, &siblings)?;
        sqlx::query(
            "INSERT INTO subnets (subnet_id, vpc_id, account, region, doc) VALUES ($1, $2, $3, $4, $5::jsonb)",
        )
        .bind(&subnet.subnet_id)
        .bind(&subnet.vpc_id)
        .bind(&scope.account)
        .bind(&scope.region)
        .bind(encode(&subnet)?)
        .execute(&mut *tx)
        .await?;
        sync_tags(
            &mut tx,
            &subnet.subnet_id,
            "subnet",
            scope,
            &[],
            &subnet.tags,
        )
        .await?;
        tx.commit().await?;
        Ok(subnet)
    }

    async fn subnets(&self, scope: &Scope) -> Result<Vec<Subnet>> {
        all(self, &SUBNETS, scope).await
    }

    async fn delete_subnet(
        &self,
        scope: &Scope,
        subnet_id: &str,
        check: SubnetDeletion,
    ) -> Result<Subnet> {
        let mut tx = self.begin_write().await?;
        let subnet = find_subnet(&mut tx, scope, subnet_id)
            .await?
            .ok_or_else(|| Ec2Error::InvalidSubnetIdNotFound(subnet_id.to_string()))?;
        let held = held_addresses(&mut tx, subnet_id).await?;
        check(&subnet, held)?;
        delete(&mut tx, &SUBNETS, subnet_id).await?;
        tx.commit().await?;
        Ok(subnet)
    }

    /// Tags of a VPC or subnet the account made, by its id's prefix. The default VPC and
    /// its subnets are the catalogue's and carry no tags (they are not found here).
    async fn update_network_tags(&self, scope: &Scope, id: &str, f: TagsMutation) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if id.starts_with("vpc-") {
            retag(&mut tx, scope, id, &VPCS, |v: &mut Vpc| &mut v.tags, f).await?;
        } else {
            retag(
                &mut tx,
                scope,
                id,
                &SUBNETS,
                |s: &mut Subnet| &mut s.tags,
                f,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn subnet_usage(&self, subnet_ids: &[String]) -> Result<HashMap<String, u64>> {
        if subnet_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT subnet_id, COUNT(*) FROM instances
             WHERE state <> 'terminated' AND subnet_id = ANY($1) GROUP BY subnet_id",
        )
        .bind(subnet_ids)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(s, n)| (s, n as u64)).collect())
    }
}
