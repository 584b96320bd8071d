//! The metadata hosts alive, as the database knows them: each host holds a lease it renews
//! (its heartbeat); a host whose lease ran out is not alive, and the instances it served
//! go to the others (`model::placement::owner` over [`live`]). Leases are reckoned on the
//! database's clock (`now()`), never a node's, so that every node sees the same live set.

use sqlx::PgPool;
use std::time::Duration;

/// Register `host_id`, or renew its lease: it is alive until `lease` from now. A host whose
/// lease ran out comes back the same way.
pub async fn renew(pool: &PgPool, host_id: &str, lease: Duration) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO metadata_hosts (host_id, lease_until)
         VALUES ($1, now() + make_interval(secs => $2))
         ON CONFLICT (host_id) DO UPDATE SET lease_until = excluded.lease_until",
    )
    .bind(host_id)
    .bind(lease.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

/// The hosts whose lease has not run out, by id.
pub async fn live(pool: &PgPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT host_id FROM metadata_hosts WHERE lease_until > now() ORDER BY host_id",
    )
    .fetch_all(pool)
    .await
}

/// `host_id` leaves (a clean stop): its instances go to the others at once, without
/// waiting for its lease to run out.
pub async fn leave(pool: &PgPool, host_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM metadata_hosts WHERE host_id = $1")
        .bind(host_id)
        .execute(pool)
        .await?;
    Ok(())
}
