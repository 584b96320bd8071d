//! Issue 14: the PostgreSQL backend's foundation against a real server, the throw-away one
//! the test command starts (`scripts/postgres`; its URL in `IMDS_TEST_POSTGRES_URL`), each
//! test in a database of its own, dropped at its end: nodes that start together migrate the
//! schema once; a schema newer than the build is refused; transactions PostgreSQL rolls
//! back for another's sake (a serialization failure, a deadlock) are run again and lose no
//! write; a follower of the change feed misses no change while writers commit; metadata
//! hosts are alive while their lease runs.

use imds_store::postgres::retry::{self, retrying};
use imds_store::postgres::schema;
use imds_store::postgres::{feed, hosts};
use imds_store::postgres::{MigrateError, PgDatabase};
use model::placement;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::sync::Barrier;

/// The server's URL; without one the test is skipped, loudly, and under
/// `IMDS_REQUIRE_ALL=1` (as `.ci/run` sets) it fails instead.
fn server_url() -> Option<String> {
    match std::env::var("IMDS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let why = "SKIPPED: no PostgreSQL server (IMDS_TEST_POSTGRES_URL is unset; scripts/test starts one from the machine's binaries: apt-get install -y postgresql)";
            assert!(
                std::env::var("IMDS_REQUIRE_ALL").as_deref() != Ok("1"),
                "{why}, and IMDS_REQUIRE_ALL=1 makes a skip a failure"
            );
            eprintln!("{why}");
            None
        }
    }
}

/// A database of one test's own on the server, dropped when the test ends (passed or not).
struct TestDb {
    server: String,
    name: String,
}

impl TestDb {
    async fn new(tag: &str) -> Option<TestDb> {
        let server = server_url()?;
        // PostgreSQL's names hold 63 bytes.
        let tag: String = tag.chars().take(40).collect();
        let name = format!("imds_{tag}_{}", std::process::id());
        let mut admin = PgConnection::connect(&server).await.unwrap();
        admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await
            .unwrap();
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();
        Some(TestDb { server, name })
    }

    /// The URL of this test's database: the server's, with its own database name.
    fn url(&self) -> String {
        let (base, _) = self.server.rsplit_once('/').expect("a URL with a database");
        format!("{base}/{}", self.name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // A runtime of its own on a thread of its own: a test's runtime may be gone.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&server).await {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Six nodes starting at once against a new database: every one opens, exactly one applies
/// the migrations (the others wait on the lock, then find them applied), each version is
/// recorded once, and the tables are there.
#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    let Some(db) = TestDb::new("migrate").await else {
        return;
    };
    let url = db.url();
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgDatabase::open(&url).await })
        })
        .collect();
    let mut nodes = Vec::new();
    for o in opens {
        nodes.push(o.await.unwrap().expect("every node opens"));
    }
    let from: Vec<i64> = nodes.iter().map(|n| n.migrated().from).collect();
    assert_eq!(
        from.iter().filter(|f| **f == 0).count(),
        1,
        "one node migrated: {from:?}"
    );
    assert!(from.iter().all(|f| *f == 0 || *f == schema::version()));
    assert!(nodes.iter().all(|n| n.migrated().to == schema::version()));
    let pool = nodes[0].pool();
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM imds_schema ORDER BY version")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(versions, (1..=schema::version()).collect::<Vec<_>>());
    for table in [
        "instances",
        "instance_attrs",
        "scopes",
        "tags",
        "changes",
        "account_defaults",
        "images",
        "launch_templates",
        "launch_template_versions",
        "iam_records",
        "vpcs",
        "subnets",
        "metadata_hosts",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        assert_eq!(n, 0, "{table}");
    }
    for n in &nodes {
        n.close().await;
    }
    // Opened again, nothing is left to do.
    let again = PgDatabase::open(&url).await.unwrap();
    assert_eq!(
        (again.migrated().from, again.migrated().to),
        (schema::version(), schema::version())
    );
    again.close().await;
}

/// A database whose schema a newer build wrote is refused, and left as it was.
#[tokio::test]
async fn a_newer_schema_is_refused() {
    let Some(db) = TestDb::new("newer").await else {
        return;
    };
    let first = PgDatabase::open(&db.url()).await.unwrap();
    sqlx::query("INSERT INTO imds_schema (version) VALUES ($1)")
        .bind(schema::version() + 1)
        .execute(first.pool())
        .await
        .unwrap();
    first.close().await;
    match PgDatabase::open(&db.url()).await {
        Err(MigrateError::Newer { found, supported }) => {
            assert_eq!(
                (found, supported),
                (schema::version() + 1, schema::version())
            );
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a newer schema was opened"),
    }
}

/// A table `counter (id, n)` with rows 1 and 2 at 0, in the test's database.
async fn counter(db: &TestDb) -> PgPool {
    let pool = PgPool::connect(&db.url()).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE counter (id INT PRIMARY KEY, n INT NOT NULL);
         INSERT INTO counter VALUES (1, 0), (2, 0);",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool
}

/// One increment of row 1 in a serializable transaction, which reads the row, waits for
/// `read` (the other transaction's read too) when given, then writes; counts its
/// serialization failures in `failures`.
async fn increment(
    pool: PgPool,
    read: Option<Arc<Barrier>>,
    failures: Arc<AtomicU32>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        .execute(&mut *tx)
        .await?;
    let n: i32 = sqlx::query_scalar("SELECT n FROM counter WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    if let Some(read) = read {
        read.wait().await;
    }
    let r = match sqlx::query("UPDATE counter SET n = $1 WHERE id = 1")
        .bind(n + 1)
        .execute(&mut *tx)
        .await
    {
        Ok(_) => tx.commit().await,
        Err(e) => Err(e),
    };
    counted(r, retry::SERIALIZATION_FAILURE, &failures)
}

/// `r`, counted in `count` when it failed with SQLSTATE `code`.
fn counted(r: Result<(), sqlx::Error>, code: &str, count: &AtomicU32) -> Result<(), sqlx::Error> {
    if let Err(sqlx::Error::Database(d)) = &r {
        if d.code().as_deref() == Some(code) {
            count.fetch_add(1, Ordering::SeqCst);
        }
    }
    r
}

/// Two serializable transactions read the same row, then both increment it: PostgreSQL
/// fails the second with a serialization failure (40001); run again, it reads the first's
/// write, so both increments count.
#[tokio::test]
async fn a_serialization_failure_is_run_again_and_loses_nothing() {
    let Some(db) = TestDb::new("serial").await else {
        return;
    };
    let pool = counter(&db).await;
    let both_read = Arc::new(Barrier::new(2));
    let failures = Arc::new(AtomicU32::new(0));
    let increments: Vec<_> = (0..2)
        .map(|_| {
            let (pool, both_read, failures) = (pool.clone(), both_read.clone(), failures.clone());
            tokio::spawn(async move {
                let mut first = true;
                retrying(move || {
                    let read = first.then(|| both_read.clone());
                    first = false;
                    increment(pool.clone(), read, failures.clone())
                })
                .await
            })
        })
        .collect();
    let mut attempts = 0;
    for i in increments {
        let (r, made) = i.await.unwrap();
        r.expect("each increment commits in the end");
        attempts += made;
    }
    let failed = failures.load(Ordering::SeqCst);
    assert!(failed >= 1, "PostgreSQL refused one");
    assert_eq!(attempts, 2 + failed, "each refusal was run again");
    let n: i32 = sqlx::query_scalar("SELECT n FROM counter WHERE id = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2, "no increment lost");
    pool.close().await;
}

/// Rows `a` then `b` incremented in one transaction, waiting for `locked` (the other
/// transaction's first lock too) between the two when given; counts its deadlocks.
async fn bump_both(
    pool: PgPool,
    (a, b): (i32, i32),
    locked: Option<Arc<Barrier>>,
    deadlocks: Arc<AtomicU32>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let bump = "UPDATE counter SET n = n + 1 WHERE id = $1";
    sqlx::query(bump).bind(a).execute(&mut *tx).await?;
    if let Some(locked) = locked {
        locked.wait().await;
    }
    let r = match sqlx::query(bump).bind(b).execute(&mut *tx).await {
        Ok(_) => tx.commit().await,
        Err(e) => Err(e),
    };
    counted(r, retry::DEADLOCK_DETECTED, &deadlocks)
}

/// Two transactions lock rows 1 and 2 in opposite orders: PostgreSQL breaks the deadlock by
/// failing one (40P01); run again, both commit.
#[tokio::test]
async fn a_deadlock_is_run_again() {
    let Some(db) = TestDb::new("deadlock").await else {
        return;
    };
    let pool = counter(&db).await;
    let both_locked = Arc::new(Barrier::new(2));
    let deadlocks = Arc::new(AtomicU32::new(0));
    let txs: Vec<_> = [(1, 2), (2, 1)]
        .into_iter()
        .map(|order| {
            let (pool, both_locked, deadlocks) =
                (pool.clone(), both_locked.clone(), deadlocks.clone());
            tokio::spawn(async move {
                let mut first = true;
                retrying(move || {
                    let locked = first.then(|| both_locked.clone());
                    first = false;
                    bump_both(pool.clone(), order, locked, deadlocks.clone())
                })
                .await
            })
        })
        .collect();
    for t in txs {
        let (r, _) = t.await.unwrap();
        r.expect("each transaction commits in the end");
    }
    assert_eq!(
        deadlocks.load(Ordering::SeqCst),
        1,
        "one was chosen to fail"
    );
    let rows: Vec<(i32, i32)> = sqlx::query_as("SELECT id, n FROM counter ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows, vec![(1, 2), (2, 2)], "both transactions' writes");
    pool.close().await;
}

/// Metadata hosts are alive while their lease runs, on the database's clock: a host that
/// stops renewing drops out of the live set when its lease ends, and the instances it
/// served go to the host left (`model::placement`); renewed, it is back with the same
/// share; a host that leaves is gone at once.
#[tokio::test]
async fn hosts_are_alive_while_their_lease_runs() {
    let Some(db) = TestDb::new("hosts").await else {
        return;
    };
    let node = PgDatabase::open(&db.url()).await.unwrap();
    let pool = node.pool();
    let long = std::time::Duration::from_secs(600);
    hosts::renew(pool, "host-a", long).await.unwrap();
    hosts::renew(pool, "host-b", std::time::Duration::from_millis(1500))
        .await
        .unwrap();
    let both = hosts::live(pool).await.unwrap();
    assert_eq!(both, ["host-a", "host-b"]);
    let ids: Vec<String> = (0..200).map(|i| format!("i-{:017x}", i)).collect();
    let served_by = |live: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| placement::owner(id, live).unwrap().clone())
            .collect()
    };
    let shared = served_by(&both);
    assert!(shared.iter().any(|h| h == "host-b") && shared.iter().any(|h| h == "host-a"));

    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    let left = hosts::live(pool).await.unwrap();
    assert_eq!(left, ["host-a"], "host-b's lease ran out");
    assert!(served_by(&left).iter().all(|h| h == "host-a"));

    hosts::renew(pool, "host-b", long).await.unwrap();
    let back = hosts::live(pool).await.unwrap();
    assert_eq!(back, both);
    assert_eq!(served_by(&back), shared, "the same share as before");

    hosts::leave(pool, "host-a").await.unwrap();
    assert_eq!(hosts::live(pool).await.unwrap(), ["host-b"]);
    node.close().await;
}

/// Writers that commit in another order than they drew their sequence numbers would let a
/// follower move past a change not yet committed, and never read it. With the feed's lock,
/// a follower polling while eight writers append (each pausing between its append and its
/// commit) reads every change exactly once, in order, and is notified of commits.
#[tokio::test]
async fn a_follower_misses_no_change_while_writers_commit() {
    let Some(db) = TestDb::new("feed").await else {
        return;
    };
    let node = PgDatabase::open(&db.url()).await.unwrap();
    let pool = node.pool().clone();
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .unwrap();
    listener.listen(feed::CHANNEL).await.unwrap();
    let writers: Vec<_> = (0..8u64)
        .map(|w| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut appended = Vec::new();
                for t in 0..20u64 {
                    let mut tx = pool.begin().await.unwrap();
                    let changes: Vec<feed::NewChange> = (0..=(t % 3))
                        .map(|c| feed::NewChange {
                            instance_id: format!("i-{w:02}{t:03}{c}"),
                            kind: imds_store::ChangeKind::OptionsChanged,
                            generation: t + 1,
                            at_ms: 1,
                        })
                        .collect();
                    appended.extend(feed::append(&mut tx, &changes).await.unwrap());
                    // A pause between drawing the numbers and committing them.
                    tokio::time::sleep(std::time::Duration::from_micros((w * 7 + t * 13) % 3000))
                        .await;
                    tx.commit().await.unwrap();
                }
                appended
            })
        })
        .collect();
    let follower = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut last = 0;
            let mut seen = Vec::new();
            let mut idle_rounds = 0;
            while idle_rounds < 200 {
                let page = feed::after(&pool, last, 50).await.unwrap();
                if page.is_empty() {
                    idle_rounds += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                }
                idle_rounds = 0;
                for c in page {
                    assert!(c.seq > last, "in order");
                    last = c.seq;
                    seen.push(c.seq);
                }
            }
            seen
        })
    };
    let mut all = Vec::new();
    for w in writers {
        all.extend(w.await.unwrap());
    }
    all.sort();
    let seen = follower.await.unwrap();
    assert_eq!(
        all.len() as u64,
        8 * (0..20u64).map(|t| t % 3 + 1).sum::<u64>()
    );
    assert_eq!(seen, all, "the follower read every change once, in order");
    let held: Vec<u64> = feed::after(&pool, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(held, all);
    assert_eq!(feed::oldest(&pool).await.unwrap(), all.first().copied());
    // Each commit notified the channel with its newest number.
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("a notification")
        .unwrap();
    let newest: u64 = n.payload().parse().unwrap();
    assert!(all.contains(&newest));
    node.close().await;
}

/// One change appended and committed on its own connection, as another node would.
async fn append_one(pool: &PgPool, id: &str) -> u64 {
    let mut tx = pool.begin().await.unwrap();
    let seqs = feed::append(
        &mut tx,
        &[feed::NewChange {
            instance_id: id.into(),
            kind: imds_store::ChangeKind::Launched,
            generation: 1,
            at_ms: 1,
        }],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    seqs[0]
}

/// A node learns of another's commits: by notification alone (its poll set an hour away),
/// and by polling alone where notifications do not arrive.
#[tokio::test]
async fn the_feeds_position_follows_other_nodes_commits() {
    let Some(db) = TestDb::new("watch").await else {
        return;
    };
    let node = PgDatabase::open(&db.url()).await.unwrap();
    let pool = node.pool().clone();
    let hour = std::time::Duration::from_secs(3600);
    let waits = std::time::Duration::from_secs(10);
    for (wakeup, id) in [
        (
            feed::Wakeup {
                listen: true,
                poll: hour,
            },
            "i-notified",
        ),
        (
            feed::Wakeup {
                listen: false,
                poll: std::time::Duration::from_millis(50),
            },
            "i-polled",
        ),
    ] {
        let (tx, mut position) = tokio::sync::watch::channel(0);
        let task = feed::watch(pool.clone(), wakeup, std::sync::Arc::new(tx));
        let before = feed::newest(&pool).await.unwrap();
        // The watcher has read the position (and, listening, listens) before the commit.
        tokio::time::timeout(waits, position.wait_for(|p| *p == before))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let seq = append_one(&pool, id).await;
        tokio::time::timeout(waits, position.wait_for(|p| *p == seq))
            .await
            .unwrap_or_else(|_| panic!("{wakeup:?}: not seen"))
            .unwrap();
        drop(position);
        tokio::time::timeout(waits, task).await.unwrap().unwrap();
    }
    node.close().await;
}

/// The store conformance suite (`imds_store::conformance`), every case the SQLite backend
/// passes, on PostgreSQL: each case in a database of its own.
mod conformance_suite {
    use super::TestDb;
    use imds_store::conformance::{self, Backend};
    use imds_store::postgres::PgStore;
    use imds_store::Store;
    use std::sync::Arc;

    struct Postgres(TestDb);

    impl Backend for Postgres {
        async fn open(&self) -> Arc<dyn Store> {
            Arc::new(PgStore::open(&self.0.url()).await.unwrap())
        }
    }

    macro_rules! conformance {
        ($($name:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $name() {
                let Some(db) = TestDb::new(stringify!($name)).await else {
                    return;
                };
                conformance::$name(&Postgres(db)).await;
            }
        )*};
    }

    imds_store::every_conformance_case!(conformance);
}

/// A server (or database) whose default isolation is `SERIALIZABLE` (some managed services
/// set it; CockroachDB has no other): a write's snapshot would be taken before it waited for
/// the write lock, and the write would then be rolled back (`40001`) for a change committed
/// while it waited. Migrations and writes run at `READ COMMITTED` whatever the default, so two
/// nodes opening a new database together migrate it once, and two nodes modifying one
/// instance at once both succeed, every modification counting.
#[tokio::test]
async fn writes_keep_read_committed_where_the_default_is_serializable() {
    use imds_store::conformance;
    use imds_store::postgres::PgStore;
    use imds_store::Store;
    let Some(db) = TestDb::new("serializable").await else {
        return;
    };
    let mut admin = PgConnection::connect(&db.url()).await.unwrap();
    admin
        .execute(
            format!(
                "ALTER DATABASE {} SET default_transaction_isolation = 'serializable'",
                db.name
            )
            .as_str(),
        )
        .await
        .unwrap();
    admin.close().await.unwrap();
    let url = db.url();
    let (a, b) = tokio::join!(PgStore::open(&url), PgStore::open(&url));
    let nodes: Vec<Arc<dyn Store>> = vec![Arc::new(a.unwrap()), Arc::new(b.unwrap())];
    let id = conformance::launch(&*nodes[0], 1).await[0]
        .instance_id
        .clone();
    let writers: Vec<_> = nodes
        .iter()
        .map(|node| {
            let (node, id) = (node.clone(), id.clone());
            tokio::spawn(async move {
                for _ in 0..25 {
                    conformance::require_tokens(&*node, std::slice::from_ref(&id)).await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("every modification succeeds");
    }
    let i = nodes[1].instance_by_id(&id).await.unwrap().unwrap();
    assert_eq!(i.options_generation, 1 + 50);
    for node in nodes {
        node.close().await;
    }
}

/// The writes that can run twice are run again when the database rolls them back for
/// another's sake (an engine that runs every transaction `SERIALIZABLE` would): a trigger
/// fails the first two attempts of an acknowledgement and of an IAM write with SQLSTATE
/// `40001` (a sequence counts the attempts: its increments outlive the rollbacks), and both
/// writes succeed on the third.
#[tokio::test]
async fn acknowledgements_and_iam_writes_are_run_again_after_a_serialization_failure() {
    use imds_store::conformance;
    use imds_store::postgres::PgStore;
    use imds_store::{IamStore, IamWritten, InstanceStore, Store};
    let Some(db) = TestDb::new("rerun").await else {
        return;
    };
    let store = PgStore::open(&db.url()).await.unwrap();
    let id = conformance::launch(&store, 1).await[0].instance_id.clone();
    conformance::require_tokens(&store, std::slice::from_ref(&id)).await;
    let pool = store.pool().clone();
    for (table, when) in [
        (
            "instances",
            "NEW.applied_generation > OLD.applied_generation",
        ),
        ("iam_records", "TRUE"),
    ] {
        pool.execute(sqlx::raw_sql(&format!(
            "CREATE SEQUENCE {table}_attempts;
             CREATE FUNCTION {table}_fail_twice() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF ({when}) AND nextval('{table}_attempts') <= 2 THEN
                 RAISE EXCEPTION 'injected' USING ERRCODE = 'serialization_failure';
               END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER {table}_fail_twice BEFORE INSERT OR UPDATE ON {table}
               FOR EACH ROW EXECUTE FUNCTION {table}_fail_twice();"
        )))
        .await
        .unwrap();
    }
    let attempts = |table: &'static str| {
        let pool = pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar(&format!("SELECT last_value FROM {table}_attempts"))
                .fetch_one(&pool)
                .await
                .unwrap();
            n
        }
    };
    assert_eq!(store.mark_applied(&[(id.clone(), 2)]).await.unwrap(), 1);
    assert_eq!(attempts("instances").await, 3);
    let i = store.instance_by_id(&id).await.unwrap().unwrap();
    assert_eq!(i.applied_generation, 2);
    let key = (
        "123456789012".to_string(),
        "user".to_string(),
        "alice".to_string(),
    );
    let puts = [(key.clone(), "{\"name\":\"alice\"}".to_string())]
        .into_iter()
        .collect();
    let from = store.iam_revision().await.unwrap();
    let written = store.write_iam(puts, Vec::new(), from).await.unwrap();
    assert_eq!(written, IamWritten::At(from.map(|r| r + 1)));
    assert_eq!(attempts("iam_records").await, 3);
    assert!(store.iam_records().await.unwrap().contains_key(&key));
    store.close().await;
}

/// An IAM write names the revision its records were made from; one made from a revision
/// another node has written since writes nothing (its whole entities would put back what
/// that write changed in them), and says so. Writes from the current revision move it on.
#[tokio::test]
async fn an_iam_write_made_from_an_old_revision_writes_nothing() {
    use imds_store::postgres::PgStore;
    use imds_store::{IamRecords, IamStore, IamWritten, Store};
    let Some(db) = TestDb::new("iam_revision").await else {
        return;
    };
    let (a, b) = (
        PgStore::open(&db.url()).await.unwrap(),
        PgStore::open(&db.url()).await.unwrap(),
    );
    let key = |name: &str| {
        (
            "123456789012".to_string(),
            "role".to_string(),
            name.to_string(),
        )
    };
    let records = |name: &str, doc: &str| -> IamRecords {
        [(key(name), doc.to_string())].into_iter().collect()
    };
    let r0 = a
        .iam_revision()
        .await
        .unwrap()
        .expect("PostgreSQL keeps a revision");
    assert_eq!(b.iam_revision().await.unwrap(), Some(r0));
    // Node A writes the role with one policy; node B, still at r0, with another.
    let first = a.write_iam(records("r", r#"{"p":["a"]}"#), vec![], Some(r0));
    assert_eq!(first.await.unwrap(), IamWritten::At(Some(r0 + 1)));
    let stale = b.write_iam(records("r", r#"{"p":["b"]}"#), vec![key("r")], Some(r0));
    assert_eq!(stale.await.unwrap(), IamWritten::Stale);
    let now = b.iam_records().await.unwrap();
    assert_eq!(
        now.get(&key("r")).map(String::as_str),
        Some(r#"{"p": ["a"]}"#)
    );
    assert_eq!(b.iam_revision().await.unwrap(), Some(r0 + 1));
    // Made again from what A wrote, B's write goes through.
    let again = b.write_iam(records("r", r#"{"p":["a","b"]}"#), vec![], Some(r0 + 1));
    assert_eq!(again.await.unwrap(), IamWritten::At(Some(r0 + 2)));
    assert_eq!(a.iam_revision().await.unwrap(), Some(r0 + 2));
    a.close().await;
    b.close().await;
}

/// Issue 13's shape on PostgreSQL: a filtered page of DescribeInstances reads about what it
/// returns (`PgStore::rows_read`), the same cases as SQLite's (`conformance::pages`); and a
/// database written before the filter rows were kept (schema 4) gets them at its
/// migration, then answers the same pages.
mod pages {
    use super::TestDb;
    use imds_store::conformance::launch;
    use imds_store::conformance::pages::{self as shape, f, fleet};
    use imds_store::postgres::PgStore;
    use imds_store::{InstanceStore, Store};
    use sqlx::{Connection, Executor, PgConnection};

    #[tokio::test]
    async fn a_filtered_page_reads_what_it_returns_not_the_fleet() {
        let Some(db) = TestDb::new("pages_rows").await else {
            return;
        };
        let s = PgStore::open(&db.url()).await.unwrap();
        shape::a_filtered_page_reads_what_it_returns_not_the_fleet(&s, &|| s.rows_read()).await;
        s.close().await;
    }

    #[tokio::test]
    async fn a_page_of_pending_instances_reads_what_it_returns() {
        let Some(db) = TestDb::new("pages_state").await else {
            return;
        };
        let s = PgStore::open(&db.url()).await.unwrap();
        shape::a_page_of_pending_instances_reads_what_it_returns(&s, &|| s.rows_read()).await;
        s.close().await;
    }

    /// Before schema 5 no filter row was written: a database of version 4 with a fleet in it
    /// is migrated (its instances' rows written in the migration), answers filtered pages
    /// reading what they return, and the writes after keep the rows.
    #[tokio::test]
    async fn a_database_of_schema_4_gets_its_filter_rows() {
        let Some(db) = TestDb::new("pages_v4").await else {
            return;
        };
        let required = {
            let s = PgStore::open(&db.url()).await.unwrap();
            let required = fleet(&s, 1000, 100).await;
            s.close().await;
            required
        };
        let mut conn = PgConnection::connect(&db.url()).await.unwrap();
        conn.execute(
            "DELETE FROM instance_attrs; DELETE FROM scopes; DELETE FROM imds_schema WHERE version = 5;
             ALTER TABLE instance_attrs ALTER COLUMN value TYPE TEXT COLLATE \"default\";",
        )
        .await
        .unwrap();
        conn.close().await.unwrap();
        let s = PgStore::open(&db.url()).await.unwrap();
        assert_eq!(s.migrated().from, 4);
        let (ids, most) = shape::pages(
            &s,
            &|| s.rows_read(),
            vec![
                f("instance-state-name", &["pend*", "running"]),
                f("metadata-options.http-tokens", &["required"]),
            ],
            3,
        )
        .await;
        assert_eq!(ids, required);
        assert!(most <= 2 * (2 * 4 + 16) + 2 * 4 + 8, "{most}");
        let held = s
            .instances(&imds_store::conformance::scope(), &required[..2])
            .await
            .unwrap();
        let ip = held[1].private_ip.to_string();
        let (ids, most) = shape::pages(
            &s,
            &|| s.rows_read(),
            vec![f("private-ip-address", &[&ip])],
            3,
        )
        .await;
        assert_eq!(ids, required[1..2]);
        assert!(most <= 2 * 4 + 8, "{most}");
        // Written after: a launch's rows, and a tag's.
        let launched = launch(&s, 1).await;
        let ip = launched[0].private_ip.to_string();
        let (ids, _) = shape::pages(
            &s,
            &|| s.rows_read(),
            vec![f("private-ip-address", &[&ip])],
            3,
        )
        .await;
        assert_eq!(ids, [launched[0].instance_id.clone()]);
        s.close().await;
    }

    /// Updates asked for at once run in a few transactions (`postgres::updates`), not one
    /// each: every one answered with its own decision (the refused one alone), every
    /// accepted one written.
    #[tokio::test]
    async fn updates_asked_together_share_their_transactions() {
        let Some(db) = TestDb::new("pages_groups").await else {
            return;
        };
        let s = std::sync::Arc::new(PgStore::open(&db.url()).await.unwrap());
        let all = launch(&*s, 64).await;
        let before = s.update_groups();
        let mut asked = Vec::new();
        for (n, i) in all.iter().enumerate() {
            let (s, id) = (s.clone(), i.instance_id.clone());
            asked.push(tokio::spawn(async move {
                s.update_instances(
                    &imds_store::conformance::scope(),
                    &[id],
                    imds_store::ungated(),
                    Box::new(move |i, _| {
                        i.metadata.hop_limit = model::HopLimit::new(7).unwrap();
                        if n == 5 {
                            return Err(model::Ec2Error::DryRunOperation);
                        }
                        Ok(())
                    }),
                )
                .await
            }));
        }
        for (n, a) in asked.into_iter().enumerate() {
            let r = a.await.unwrap();
            assert_eq!(r.is_err(), n == 5, "update {n}: {r:?}");
        }
        let groups = s.update_groups() - before;
        assert!(
            groups <= 16,
            "{groups} transactions for 64 updates asked at once"
        );
        let ids: Vec<String> = all.iter().map(|i| i.instance_id.clone()).collect();
        let now = s
            .instances(&imds_store::conformance::scope(), &ids)
            .await
            .unwrap();
        for (n, i) in now.iter().enumerate() {
            let want = if n == 5 {
                all[5].metadata.hop_limit.get()
            } else {
                7
            };
            assert_eq!(i.metadata.hop_limit.get(), want, "instance {n}");
        }
        s.close().await;
    }

    /// The statements of a page can be run through the indexes, on a table too small for
    /// PostgreSQL to prefer them unless told (`enable_seqscan = off`): a wildcard value's seek
    /// from its prefix (which needs the values' `COLLATE "C"`), a driver's merged ranges, a
    /// pending page through its partial index, and DescribeTags' key seek and key range.
    #[tokio::test]
    async fn a_pages_statements_read_through_the_indexes() {
        let Some(db) = TestDb::new("pages_plan").await else {
            return;
        };
        let s = PgStore::open(&db.url()).await.unwrap();
        s.close().await;
        let mut conn = PgConnection::connect(&db.url()).await.unwrap();
        conn.execute("SET enable_seqscan = off").await.unwrap();
        // (statement, the index it reads, whether it reads in the index's order: a UNION of
        // ranges sorts its few rows to keep each once.)
        for (sql, index, ordered) in [
            (
                "SELECT value FROM instance_attrs WHERE scope = 1 AND name = 'private-ip-address' AND value >= '10.0.' ORDER BY value LIMIT 1",
                "instance_attrs_scope",
                true,
            ),
            (
                "(SELECT pk FROM instance_attrs WHERE scope = 1 AND name = 'tag-key' AND value = 'a' AND pk > 10 ORDER BY pk LIMIT 6) UNION (SELECT pk FROM instance_attrs WHERE scope = 1 AND name = 'tag-key' AND value = 'b' AND pk > 10 ORDER BY pk LIMIT 6) ORDER BY pk LIMIT 6",
                "instance_attrs_scope",
                false,
            ),
            (
                "SELECT pk FROM instances WHERE account = 'a' AND region = 'r' AND pending_apply AND pk > 10 ORDER BY pk LIMIT 6",
                "instances_pending_scope",
                true,
            ),
            (
                "SELECT key FROM tags WHERE account = 'a' AND region = 'r' AND key >= 'Na' ORDER BY key LIMIT 1",
                "tags_key",
                true,
            ),
            (
                "SELECT pos, resource_id, resource_type, key, value FROM tags WHERE account = 'a' AND region = 'r' AND pos > 3 AND key = 'Name' AND (value LIKE 'web%') ORDER BY pos LIMIT 6",
                "tags_key",
                true,
            ),
        ] {
            let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            let plan = plan.join("\n");
            assert!(!plan.contains("Seq Scan"), "{sql}: {plan}");
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(!ordered || !plan.contains("Sort"), "{sql}: {plan}");
        }
        conn.close().await.unwrap();
    }
}
