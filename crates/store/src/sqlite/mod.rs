//! The embedded store: one SQLite file in WAL mode.
//!
//! Reads go through a pool of read-only connections (WAL lets them run beside the writer).
//! Every write goes to a single writer task ([`writer`], on a thread of its own) that applies
//! queued writes in one transaction, each inside its own savepoint (or none: `writer::lead`),
//! and commits once: group commit, so that one fsync covers many acknowledged writes. A
//! write is answered only after its commit, so an acknowledged change is on disk
//! (`synchronous=FULL`) before the API responds.

mod checkpoint;
mod clean;
mod integrity;
mod pages;
mod reads;
mod schema;
pub(crate) mod served_columns;
mod service_docs;
mod tag_pages;
mod writer;

use crate::*;
use async_trait::async_trait;
use integrity::damaged;
pub use integrity::IntegrityCheck;
use model::image::Image;
use model::launch_template::{LaunchTemplate, LaunchTemplateVersion};
use model::vpc::{Subnet, Vpc};
use model::{AccountDefaults, Instance, Scope};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Mutex};
use writer::Job;

pub struct SqliteStore {
    path: std::path::PathBuf,
    /// Whether this open created the store (a new or empty file).
    created: bool,
    /// The check of the file's pages: a close records the file as clean only if it passed.
    check: IntegrityCheck,
    read: SqlitePool,
    jobs: mpsc::Sender<writer::Msg>,
    latest: watch::Receiver<u64>,
    /// Answered when the writer's thread has stopped.
    writer: Mutex<Option<oneshot::Receiver<()>>>,
    /// Rows the paged listings have read (see [`SqliteStore::rows_read`]).
    rows_read: std::sync::atomic::AtomicU64,
    /// The writer's round trips to SQLite (see [`SqliteStore::write_round_trips`]).
    write_trips: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// How the file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync at every commit (the default): nothing acknowledged is lost on a crash.
    Durable,
    /// No fsync: for `--ephemeral`, where the file is thrown away anyway.
    Volatile,
}

impl SqliteStore {
    /// Open (creating if needed) the store at `path`. A file that is not a database, or whose
    /// pages fail SQLite's `quick_check`, is refused as [`StoreError::Damaged`]: serving it
    /// would answer 500s. An empty file is a new store, like a missing one.
    pub async fn open(path: &Path, durability: Durability) -> Result<Self> {
        let (store, check) = Self::open_checking(path, durability).await?;
        check.passed().await?;
        Ok(store)
    }

    /// [`SqliteStore::open`], with the check of the file's pages (linear in its size) running
    /// beside what the caller does next rather than before: the store reads at once, writes
    /// nothing until the check has passed, and the caller serves nothing until
    /// [`IntegrityCheck::passed`] (a damaged store is refused with the same error as `open`'s).
    /// A store that needs a migration is checked before it is migrated, as `open` does.
    pub async fn open_checking(
        path: &Path,
        durability: Durability,
    ) -> Result<(Self, IntegrityCheck)> {
        Self::open_checked(path, durability)
            .await
            .map_err(|e| damaged(path, e))
    }

    /// How many rows the paged listings (DescribeInstances) have read since the store was
    /// opened: candidates, documents, and the rows read to choose an index. Tests hold a
    /// page's cost to the page with it, never to the fleet.
    pub fn rows_read(&self) -> u64 {
        self.rows_read.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many round trips to SQLite the writer has made since the store was opened (each
    /// statement, or statements sent together, it waited for). Tests hold the writes of many
    /// instances to a few with it, never to one per instance.
    pub fn write_round_trips(&self) -> u64 {
        self.write_trips.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether this open created the store: the caller then creates the first instance.
    pub fn created(&self) -> bool {
        self.created
    }

    async fn open_checked(path: &Path, durability: Durability) -> Result<(Self, IntegrityCheck)> {
        let sync = match durability {
            Durability::Durable => SqliteSynchronous::Full,
            Durability::Volatile => SqliteSynchronous::Off,
        };
        let base = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sync)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false)
            .disable_statement_logging();
        let untouched = clean::untouched(path);
        let mut conn = base.clone().create_if_missing(true).connect().await?;
        let check = if schema::current(&mut conn).await? {
            if untouched {
                tracing::info!(store = %path.display(), "the store is as its last clean close left it: not checked again");
                IntegrityCheck::passed_already(path)
            } else {
                integrity::spawn(path, base.clone())
            }
        } else {
            // New (nothing to check), or to be migrated (checked before anything is written).
            integrity::quick_check(&mut conn).await?;
            IntegrityCheck::passed_already(path)
        };
        let created = schema::migrate(&mut conn).await?;
        // The writer's connection: checkpoints are another connection's (`checkpoint`).
        // (A savepoint's journal stays in a temporary file: in memory it left ~25–65 MiB more
        // with the allocator after launches. The writes that dominate under load, updates
        // and acknowledgements, open no savepoint at all: `writer::lead`.)
        checkpoint::prepare_writer(&mut conn, checkpoint::WAL_CAP).await?;
        let checkpoints = base.clone().connect().await?;
        let latest = reads::latest_seq(&mut conn).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(base.read_only(true))
            .await?;
        let (tx, rx) = mpsc::channel(4096);
        let (seq_tx, seq_rx) = watch::channel(latest);
        // Boxed as a `Send` future: sqlx's executor bounds confuse the auto-trait inference of
        // a future that holds higher-ranked job closures (rust-lang/rust#102211).
        // Nothing is written before the check has passed; a damaged store writes nothing
        // (the queued writes fail with `Closed`).
        let checked = check.clone();
        let at = path.to_path_buf();
        let run: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
            Box::pin(async move {
                if checked.passed().await.is_ok() {
                    let checkpoints =
                        checkpoint::Checkpoints::spawn(checkpoints, &at, checkpoint::WAL_CAP);
                    writer::run(conn, rx, seq_tx, checkpoints).await
                }
            });
        let (done_tx, done_rx) = oneshot::channel();
        let write_trips = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let trips = write_trips.clone();
        // The writer runs on a thread of its own: each write waits on SQLite several times
        // (a round trip to sqlx's connection thread each), and on the API's runtime every one
        // of those wake-ups would queue behind the requests being served, so that the one
        // writer, which every write waits for, would run at the pace of the busiest moment.
        std::thread::Builder::new()
            .name("imds-store-writer".into())
            .spawn(move || {
                writer::trips::count_into(trips);
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(run),
                    Err(e) => tracing::error!(error = %e, "cannot start the store's writer"),
                }
                let _ = done_tx.send(());
            })
            .map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
        let store = SqliteStore {
            path: path.to_path_buf(),
            created,
            check: check.clone(),
            read,
            jobs: tx,
            latest: seq_rx,
            writer: Mutex::new(Some(done_rx)),
            rows_read: Default::default(),
            write_trips,
        };
        Ok((store, check))
    }

    /// Queue a write and wait for its commit.
    async fn write<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Job,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(writer::Msg::Job(make(tx)))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

#[async_trait]
impl InstanceStore for SqliteStore {
    async fn launch(
        &self,
        scope: &Scope,
        req: LaunchRequest,
        build: LaunchBuilder,
    ) -> Result<LaunchOutcome> {
        let scope = scope.clone();
        self.write(move |reply| writer::instances::launch(scope, req, build, reply))
            .await
    }

    async fn instances(&self, scope: &Scope, ids: &[String]) -> Result<Vec<Instance>> {
        reads::instances(&self.read, scope, ids).await
    }

    async fn describe_instances(&self, scope: &Scope, q: &InstanceQuery) -> Result<InstancePage> {
        pages::describe_instances(&self.read, &self.rows_read, scope, q).await
    }

    async fn update_instances(
        &self,
        scope: &Scope,
        ids: &[String],
        gate: InstanceGate,
        f: InstanceMutation,
    ) -> Result<Vec<(Instance, Instance)>> {
        let scope = scope.clone();
        let ids = ids.to_vec();
        self.write(move |reply| writer::instances::update_instances(scope, ids, gate, f, reply))
            .await
    }

    async fn advance(&self, now_ms: i64, purge_before_ms: i64) -> Result<Option<i64>> {
        self.write(move |reply| writer::lifecycle::advance(now_ms, purge_before_ms, reply))
            .await
    }

    async fn next_due(&self, retention_ms: i64) -> Result<Option<i64>> {
        reads::next_due(&self.read, retention_ms).await
    }

    async fn take_due_events(&self, now_ms: i64, delay_ms: i64) -> Result<Option<i64>> {
        self.write(move |reply| writer::events::take_due_events(now_ms, delay_ms, reply))
            .await
    }

    async fn next_event_due(&self) -> Result<Option<i64>> {
        reads::next_event_due(&mut *self.read.acquire().await?).await
    }

    async fn next_steps(&self, retention_ms: i64) -> Result<crate::NextSteps> {
        reads::next_steps(&self.read, retention_ms).await
    }

    async fn mark_applied(&self, applied: &[(String, u64)]) -> Result<usize> {
        let applied = applied.to_vec();
        self.write(move |reply| writer::instances::mark_applied(applied, reply))
            .await
    }

    async fn settle_associations(&self, settled: &[(String, String)]) -> Result<Vec<Instance>> {
        let settled = settled.to_vec();
        self.write(move |reply| writer::instances::settle_associations(settled, reply))
            .await
    }

    async fn pending_applies(&self) -> Result<Vec<(String, u64)>> {
        reads::pending_applies(&self.read).await
    }

    async fn instance_by_id(&self, instance_id: &str) -> Result<Option<Instance>> {
        reads::instance_by_id(&self.read, instance_id).await
    }

    async fn all_instances(&self, after: Option<i64>, limit: u32) -> Result<InstancePage> {
        reads::all_instances(&self.read, after, limit).await
    }

    async fn count_instances(&self) -> Result<u64> {
        reads::count_instances(&self.read).await
    }

    async fn served_instances(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> Result<crate::instances::ServedPage> {
        reads::served_instances(&self.read, after, limit).await
    }
}

#[async_trait]
impl TagStore for SqliteStore {
    async fn describe_tags(&self, scope: &Scope, q: &TagQuery) -> Result<TagPage> {
        tag_pages::describe_tags(&self.read, scope, q).await
    }
}

#[async_trait]
impl DefaultsStore for SqliteStore {
    async fn defaults(&self, scope: &Scope) -> Result<AccountDefaults> {
        let mut conn = self.read.acquire().await?;
        reads::defaults(&mut conn, scope).await
    }

    async fn modify_defaults(&self, scope: &Scope, f: DefaultsMutation) -> Result<AccountDefaults> {
        let scope = scope.clone();
        self.write(move |reply| writer::defaults::modify_defaults(scope, f, reply))
            .await
    }
}

#[async_trait]
impl ImageStore for SqliteStore {
    async fn put_image(&self, scope: &Scope, image: Image) -> Result<()> {
        let scope = scope.clone();
        self.write(move |reply| writer::images::put_image(scope, image, reply))
            .await
    }

    async fn images(&self, scope: &Scope) -> Result<Vec<Image>> {
        reads::images(&self.read, scope).await
    }

    async fn update_image(&self, scope: &Scope, image_id: &str, f: ImageMutation) -> Result<Image> {
        let scope = scope.clone();
        let id = image_id.to_string();
        self.write(move |reply| writer::images::update_image(scope, id, f, reply))
            .await
    }
}

#[async_trait]
impl TemplateStore for SqliteStore {
    async fn create_template(
        &self,
        scope: &Scope,
        t: LaunchTemplate,
        v: LaunchTemplateVersion,
    ) -> Result<()> {
        let scope = scope.clone();
        self.write(move |reply| writer::templates::create_template(scope, t, v, reply))
            .await
    }

    async fn templates(&self, scope: &Scope) -> Result<Vec<LaunchTemplate>> {
        reads::templates(&self.read, scope).await
    }

    async fn template_versions(
        &self,
        scope: &Scope,
        template_id: &str,
    ) -> Result<Vec<LaunchTemplateVersion>> {
        reads::template_versions(&self.read, scope, template_id).await
    }

    async fn update_template(
        &self,
        scope: &Scope,
        template_id: &str,
        f: TemplateMutation,
    ) -> Result<(LaunchTemplate, Option<LaunchTemplateVersion>)> {
        let scope = scope.clone();
        let id = template_id.to_string();
        self.write(move |reply| writer::templates::update_template(scope, id, f, reply))
            .await
    }

    async fn delete_template(&self, scope: &Scope, template_id: &str) -> Result<LaunchTemplate> {
        let scope = scope.clone();
        let id = template_id.to_string();
        self.write(move |reply| writer::templates::delete_template(scope, id, reply))
            .await
    }
}

#[async_trait]
impl NetworkStore for SqliteStore {
    async fn create_vpc(&self, scope: &Scope, vpc: Vpc) -> Result<()> {
        let scope = scope.clone();
        self.write(move |reply| writer::network::create_vpc(scope, vpc, reply))
            .await
    }

    async fn vpcs(&self, scope: &Scope) -> Result<Vec<Vpc>> {
        let mut conn = self.read.acquire().await?;
        reads::vpcs(&mut conn, scope).await
    }

    async fn delete_vpc(&self, scope: &Scope, vpc_id: &str, check: VpcDeletion) -> Result<Vpc> {
        let scope = scope.clone();
        let id = vpc_id.to_string();
        self.write(move |reply| writer::network::delete_vpc(scope, id, check, reply))
            .await
    }

    async fn create_subnet(
        &self,
        scope: &Scope,
        vpc_id: &str,
        build: SubnetBuilder,
    ) -> Result<Subnet> {
        let scope = scope.clone();
        let id = vpc_id.to_string();
        self.write(move |reply| writer::network::create_subnet(scope, id, build, reply))
            .await
    }

    async fn subnets(&self, scope: &Scope) -> Result<Vec<Subnet>> {
        let mut conn = self.read.acquire().await?;
        reads::subnets(&mut conn, scope).await
    }

    async fn delete_subnet(
        &self,
        scope: &Scope,
        subnet_id: &str,
        check: SubnetDeletion,
    ) -> Result<Subnet> {
        let scope = scope.clone();
        let id = subnet_id.to_string();
        self.write(move |reply| writer::network::delete_subnet(scope, id, check, reply))
            .await
    }

    async fn update_network_tags(&self, scope: &Scope, id: &str, f: TagsMutation) -> Result<()> {
        let scope = scope.clone();
        let id = id.to_string();
        self.write(move |reply| writer::network::update_network_tags(scope, id, f, reply))
            .await
    }

    async fn subnet_usage(
        &self,
        subnet_ids: &[String],
    ) -> Result<std::collections::HashMap<String, u64>> {
        reads::subnet_usage(&self.read, subnet_ids).await
    }
}

#[async_trait]
impl IamStore for SqliteStore {
    async fn iam_records(&self) -> Result<crate::IamRecords> {
        reads::iam_records(&self.read).await
    }

    /// This process is the store's only writer (no revisions): `from` is always current.
    async fn write_iam(
        &self,
        puts: crate::IamRecords,
        deletes: Vec<crate::IamKey>,
        _from: Option<u64>,
    ) -> Result<crate::IamWritten> {
        self.write(move |reply| writer::iam::write_iam(puts, deletes, reply))
            .await?;
        Ok(crate::IamWritten::At(None))
    }
}

#[async_trait]
impl Feed for SqliteStore {
    async fn changes_after(&self, after: u64, limit: u32) -> Result<Vec<Change>> {
        reads::changes_after(&self.read, after, limit).await
    }

    async fn oldest_change(&self) -> Result<Option<u64>> {
        reads::oldest_change(&self.read).await
    }

    fn watch(&self) -> watch::Receiver<u64> {
        self.latest.clone()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn close(&self) {
        // The writer commits what is queued before the close message, then ends; writes
        // sent after it fail with `Closed`.
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(writer::Msg::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
        if let Some(h) = self.writer.lock().await.take() {
            let _ = h.await;
        }
        self.read.close().await;
        if self.check.has_passed() {
            clean::record(&self.path).await;
        }
    }
}
