//! The VPCs and subnets accounts create, beside the catalogue's default ones; creations and
//! deletions decided by the model on what the transaction read.

use super::documents::{Documents, SUBNETS, VPCS};
use super::trips::counted;
use super::{job, Job};
use crate::network::{self, SubnetBuilder, SubnetDeletion, TagsMutation, VpcDeletion};
use crate::sqlite::reads::decode;
use crate::Result;
use model::tags::Tag;
use model::vpc::{Subnet, Vpc};
use model::{Ec2Error, Scope};
use sqlx::SqliteConnection;
use std::net::Ipv4Addr;
use tokio::sync::oneshot;

/// A subnet of the scope by id: one of the Region's default subnets, or one the account made.
pub(super) async fn find_subnet(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: &str,
) -> Result<Option<Subnet>> {
    match network::default_subnet(scope, id) {
        Some(s) => Ok(Some(s)),
        None => SUBNETS.find(conn, scope, id).await,
    }
}

/// The addresses of a subnet that instances hold: every instance not terminated.
///
/// Read from the subnet's index alone (it holds the address and, as every index, the row's
/// `pk`), less the terminated instances, found by their own index: looking up each row's
/// state took a page read per instance, a quarter of a second for a subnet of 60,000 at
/// every launch. The addresses come back as one text, not a row each. (An instance reads
/// as terminated once it has its termination time, which the model gives it on reaching
/// `terminated`.)
const HELD_ADDRESSES: &str = "SELECT group_concat(private_ip) FROM instances WHERE subnet_id = ? \
     AND pk NOT IN (SELECT pk FROM instances WHERE terminated_at_ms IS NOT NULL AND state = 'terminated')";

pub(super) async fn held_addresses(
    conn: &mut SqliteConnection,
    subnet_id: &str,
) -> Result<Vec<Ipv4Addr>> {
    let used: Option<String> = sqlx::query_scalar(HELD_ADDRESSES)
        .bind(subnet_id)
        .fetch_one(counted(conn))
        .await?;
    Ok(used
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect())
}

/// A VPC of the scope by id: the Region's default VPC, or one the account made.
async fn find_vpc(conn: &mut SqliteConnection, scope: &Scope, id: &str) -> Result<Option<Vpc>> {
    match network::default_vpc(scope, id) {
        Some(v) => Ok(Some(v)),
        None => VPCS.find(conn, scope, id).await,
    }
}

/// The subnets of a VPC of the scope (its default subnets first, for the default VPC).
async fn subnets_of(
    conn: &mut SqliteConnection,
    scope: &Scope,
    vpc_id: &str,
) -> Result<Vec<Subnet>> {
    let mut out = network::default_subnets_of(scope, vpc_id);
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT doc FROM subnets WHERE vpc_id = ? AND account = ? AND region = ? ORDER BY pos",
    )
    .bind(vpc_id)
    .bind(&scope.account)
    .bind(&scope.region)
    .fetch_all(counted(conn))
    .await?;
    for (d,) in rows {
        out.push(decode(&d)?);
    }
    Ok(out)
}

pub fn create_vpc(scope: Scope, vpc: Vpc, reply: oneshot::Sender<Result<()>>) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            VPCS.insert(conn, &scope, &vpc.vpc_id, &vpc, &vpc.tags, &[])
                .await
        })
    })
}

pub fn delete_vpc(
    scope: Scope,
    id: String,
    check: VpcDeletion,
    reply: oneshot::Sender<Result<Vpc>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let vpc = find_vpc(conn, &scope, &id)
                .await?
                .ok_or_else(|| Ec2Error::InvalidVpcIdNotFound(id.clone()))?;
            let subnets = subnets_of(conn, &scope, &id).await?.len();
            check(&vpc, subnets)?;
            VPCS.delete(conn, &id).await?;
            Ok(vpc)
        })
    })
}

pub fn create_subnet(
    scope: Scope,
    vpc_id: String,
    build: SubnetBuilder,
    reply: oneshot::Sender<Result<Subnet>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let vpc = find_vpc(conn, &scope, &vpc_id)
                .await?
                .ok_or_else(|| Ec2Error::InvalidVpcIdNotFound(vpc_id.clone()))?;
            let siblings = subnets_of(conn, &scope, &vpc_id).await?;
            let subnet = build(&vpc, &siblings)?;
            let vpc_id = [("vpc_id", subnet.vpc_id.as_str())];
            SUBNETS
                .insert(
                    conn,
                    &scope,
                    &subnet.subnet_id,
                    &subnet,
                    &subnet.tags,
                    &vpc_id,
                )
                .await?;
            Ok(subnet)
        })
    })
}

pub fn delete_subnet(
    scope: Scope,
    id: String,
    check: SubnetDeletion,
    reply: oneshot::Sender<Result<Subnet>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            let subnet = find_subnet(conn, &scope, &id)
                .await?
                .ok_or_else(|| Ec2Error::InvalidSubnetIdNotFound(id.clone()))?;
            let held = held_addresses(conn, &id).await?.len() as u64;
            check(&subnet, held)?;
            SUBNETS.delete(conn, &id).await?;
            Ok(subnet)
        })
    })
}

/// Tags of a VPC or subnet the account made, by its id's prefix. The default VPC and its
/// subnets are the catalogue's and carry no tags.
pub fn update_network_tags(
    scope: Scope,
    id: String,
    f: TagsMutation,
    reply: oneshot::Sender<Result<()>>,
) -> Job {
    job(reply, move |conn, _now| {
        Box::pin(async move {
            if id.starts_with("vpc-") {
                retag(conn, &scope, &id, &VPCS, |v: &mut Vpc| &mut v.tags, f).await
            } else {
                retag(conn, &scope, &id, &SUBNETS, |s: &mut Subnet| &mut s.tags, f).await
            }
        })
    })
}

/// Change the tags of one document, and the `tags` rows with them.
async fn retag<T: serde::Serialize + serde::de::DeserializeOwned + Clone>(
    conn: &mut SqliteConnection,
    scope: &Scope,
    id: &str,
    table: &Documents,
    tags_of: fn(&mut T) -> &mut Vec<Tag>,
    f: TagsMutation,
) -> Result<()> {
    let mut before: T = table.get(conn, scope, id).await?;
    let mut after = before.clone();
    f(tags_of(&mut after))?;
    let (before, after_tags) = (tags_of(&mut before).clone(), tags_of(&mut after).clone());
    table
        .replace(conn, scope, id, &after, (&before, &after_tags))
        .await
}

#[cfg(test)]
mod tests {
    use super::HELD_ADDRESSES;
    use sqlx::{Connection, Row, SqliteConnection};

    /// A launch reads the addresses its subnet holds from the subnet's index alone (no
    /// instance's row), and the terminated instances from theirs.
    #[tokio::test]
    async fn held_addresses_read_indexes_only() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        crate::sqlite::schema::migrate(&mut conn).await.unwrap();
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {HELD_ADDRESSES}"))
            .bind("subnet-1")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>(3))
            .collect();
        assert!(
            plan.iter()
                .any(|p| p.contains("COVERING INDEX instances_subnet")),
            "{plan:?}"
        );
        assert!(
            plan.iter()
                .any(|p| p.contains("USING INDEX instances_terminated")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|p| p.starts_with("SCAN")), "{plan:?}");
    }
}
