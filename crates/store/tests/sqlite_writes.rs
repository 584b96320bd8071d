//! Issue 13: the writes of many instances cost a few round trips to SQLite, not one or more
//! per instance (`SqliteStore::write_round_trips` counts the writer's). Each round trip is a
//! wait on sqlx's connection thread (about 50 µs under load): at a thousand instances a
//! lifecycle step or a metadata host's acknowledgement, one at a time, took the writer
//! 50–80 ms, and updates from many clients three round trips each.

use imds_store as store;

use model::instance::Transition;
use model::{Ec2Error, HttpTokens, InstanceState};
use std::sync::Arc;
use std::time::Duration;
use store::conformance::{hold_the_writer, launch, require_tokens};
use store::sqlite::{Durability, SqliteStore};
use store::{InstanceStore, Store};

use store::conformance::TempDir as Dir;

fn temp(name: &str) -> Dir {
    Dir::new(&format!("writes-{name}"))
}

fn scope() -> model::Scope {
    model::Scope::new("123456789012", "us-west-2")
}

/// The writer's round trips made by `f`.
async fn trips<T>(s: &SqliteStore, f: impl std::future::Future<Output = T>) -> (T, u64) {
    let before = s.write_round_trips();
    let out = f.await;
    (out, s.write_round_trips() - before)
}

/// A batch's own round trips around its jobs: `COMMIT` with the feed's latest number read
/// after it (the transaction's start and the savepoints' boundaries go with the jobs' first
/// statements: `writer::lead`).
const BATCH: u64 = 1;

#[tokio::test]
async fn a_thousand_instances_advance_update_and_are_acknowledged_in_a_few_round_trips() {
    let d = temp("many");
    let s = SqliteStore::open(&d.0.join("db"), Durability::Volatile)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.extend(launch(&s, 500).await.into_iter().map(|i| i.instance_id));
    }

    // One update of a thousand: one read, its saves sent together.
    let (pending, n) = trips(
        &s,
        s.update_instances(
            &scope(),
            &ids,
            store::ungated(),
            Box::new(|i, _| {
                i.state = InstanceState::Pending;
                i.transition = Some(Transition {
                    to: InstanceState::Running,
                    due_ms: 1,
                });
                Ok(())
            }),
        ),
    )
    .await;
    assert_eq!(pending.unwrap().len(), 1000);
    assert!(n <= BATCH + 3, "an update of 1,000: {n} round trips");

    // The lifecycle step of a thousand: read what is due, write it together, purge nothing.
    let (next, n) = trips(&s, s.advance(model::time::now_ms(), 0)).await;
    assert_eq!(next.unwrap(), None);
    assert!(n <= BATCH + 7, "a step of 1,000: {n} round trips");
    let running = s.instances(&scope(), &ids).await.unwrap();
    assert!(running.iter().all(|i| i.state == InstanceState::Running));

    // Options changed, then acknowledged by a metadata host.
    set_required(&s, &ids).await.unwrap();
    let acks: Vec<(String, u64)> = s
        .instances(&scope(), &ids)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.instance_id, i.options_generation))
        .collect();
    let (applied, n) = trips(&s, s.mark_applied(&acks)).await;
    assert_eq!(applied.unwrap(), 1000);
    assert!(n <= BATCH + 3, "1,000 acknowledgements: {n} round trips");
    let now = s.instances(&scope(), &ids).await.unwrap();
    assert!(now
        .iter()
        .all(|i| i.options_state() == model::OptionsState::Applied));
    s.close().await;
}

/// Updates queued together (one client each, as ModifyInstanceMetadataOptions from many
/// clients) share the round trips of one group: one read and one send for all of them.
#[tokio::test]
async fn updates_queued_together_share_their_round_trips() {
    let d = temp("group");
    let s = Arc::new(
        SqliteStore::open(&d.0.join("db"), Durability::Volatile)
            .await
            .unwrap(),
    );
    let a = launch(&*s, 64).await;
    // The writer is held by a first update whose gate waits, while 63 more are queued.
    let held = hold_the_writer(s.clone(), a[0].instance_id.clone()).await;
    let before = s.write_round_trips();
    let mut queued = Vec::new();
    for (n, i) in a.iter().enumerate().skip(1) {
        let s = s.clone();
        let id = i.instance_id.clone();
        queued.push(tokio::spawn(async move {
            s.update_instances(
                &scope(),
                &[id],
                store::ungated(),
                Box::new(move |i, _| {
                    if n % 7 == 0 {
                        return Err(Ec2Error::DryRunOperation);
                    }
                    i.metadata.http_tokens = HttpTokens::Required;
                    i.options_generation += 1;
                    Ok(())
                }),
            )
            .await
        }));
    }
    held.await.unwrap().unwrap();
    let mut ok = 0;
    for q in queued {
        match q.await.unwrap() {
            Ok(_) => ok += 1,
            Err(store::StoreError::Refused(Ec2Error::DryRunOperation)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 63 - 9);
    // The held batch's end, then the queued updates' batch: never a round trip per update
    // (three each, before they were grouped).
    let n = s.write_round_trips() - before;
    assert!(n <= 2 * BATCH + 4, "63 queued updates: {n} round trips");
    s.close().await;
}

/// An update, or a metadata host's acknowledgements, alone in a batch: its read (with the
/// transaction's start), its writes, the `COMMIT` (with the feed's latest number). Seven and
/// five round trips before the statements between jobs went with the jobs' own.
#[tokio::test]
async fn an_update_alone_and_acknowledgements_alone_make_three_round_trips() {
    let d = temp("three");
    let s = SqliteStore::open(&d.0.join("db"), Durability::Volatile)
        .await
        .unwrap();
    let ids: Vec<String> = launch(&s, 10)
        .await
        .into_iter()
        .map(|i| i.instance_id)
        .collect();
    let (changed, n) = trips(&s, require_tokens(&s, &ids)).await;
    assert_eq!(changed.len(), 10);
    assert_eq!(n, 3, "an update of 10 instances");
    let acks: Vec<(String, u64)> = changed
        .into_iter()
        .map(|(_, after)| (after.instance_id, after.options_generation))
        .collect();
    let (applied, n) = trips(&s, s.mark_applied(&acks)).await;
    assert_eq!(applied.unwrap(), 10);
    assert_eq!(n, 3, "10 acknowledgements");
    s.close().await;
}

/// `HttpTokens` set to `required` on `ids` and their options' generation moved on, with no
/// rule of the model (an update as the store takes it).
async fn set_required(
    s: &SqliteStore,
    ids: &[String],
) -> store::Result<Vec<(model::Instance, model::Instance)>> {
    s.update_instances(
        &scope(),
        ids,
        store::ungated(),
        Box::new(|i, _| {
            i.metadata.http_tokens = HttpTokens::Required;
            i.options_generation += 1;
            Ok(())
        }),
    )
    .await
}

/// A launch of `i` as it is (its id too) but for the address it takes, as a spawned task.
fn launch_copy(
    s: Arc<SqliteStore>,
    mut i: model::Instance,
) -> tokio::task::JoinHandle<store::Result<store::LaunchOutcome>> {
    tokio::spawn(async move {
        let request = store::LaunchRequest {
            count: 1,
            client_token: None,
            subnet_id: i.subnet_id.clone(),
            private_ip: None,
        };
        let build: store::LaunchBuilder = Box::new(move |lc| {
            i.private_ip = lc.addresses[0];
            Ok(vec![i])
        });
        s.launch(&scope(), request, build).await
    })
}

/// A write that SQLite fails between two others in one batch is undone alone: the
/// statements that end its savepoint go in front of the next job's first statement, and
/// the writes queued on either side of it commit.
#[tokio::test]
async fn a_write_sqlite_fails_between_two_others_is_undone_alone() {
    let d = temp("undone");
    let s: Arc<SqliteStore> = Arc::new(
        SqliteStore::open(&d.0.join("db"), Durability::Volatile)
            .await
            .unwrap(),
    );
    let a = launch(&*s, 3).await;
    let held = hold_the_writer(s.clone(), a[0].instance_id.clone()).await;
    let first = {
        let (s, id) = (s.clone(), a[1].instance_id.clone());
        tokio::spawn(async move { require_tokens(&*s, &[id]).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    // A launch of an instance whose id is taken: its INSERT breaks the id's UNIQUE.
    let failing = launch_copy(s.clone(), a[2].clone());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let last = {
        let (s, id) = (s.clone(), a[2].instance_id.clone());
        tokio::spawn(async move { require_tokens(&*s, &[id]).await })
    };
    held.await.unwrap().unwrap();
    assert_eq!(first.await.unwrap().len(), 1);
    assert!(
        failing.await.unwrap().is_err(),
        "a second instance with a taken id"
    );
    assert_eq!(last.await.unwrap().len(), 1);
    let ids: Vec<String> = a.iter().map(|i| i.instance_id.clone()).collect();
    let now = s.instances(&scope(), &ids).await.unwrap();
    assert_eq!(now.len(), 3);
    assert_eq!(now[1].metadata.http_tokens, HttpTokens::Required);
    assert_eq!(now[2].metadata.http_tokens, HttpTokens::Required);
    s.close().await;
}

/// A job without a savepoint of its own (a group of updates, a metadata host's
/// acknowledgements: `writer::lead`) that SQLite fails undoes the whole transaction: the
/// write queued before it in the batch is answered with the failure, never as committed,
/// and nothing of it stays; the write queued after it commits in a new transaction. Alone
/// at the start of a batch, its failure loses nothing else. (SQLite is made to fail the
/// update by a trigger this test adds from a connection of its own.)
#[tokio::test]
async fn a_write_without_a_savepoint_that_sqlite_fails_undoes_its_transaction_and_no_more() {
    use sqlx::Connection;
    let d = temp("bare");
    let path = d.0.join("db");
    let s: Arc<SqliteStore> = Arc::new(
        SqliteStore::open(&path, Durability::Volatile)
            .await
            .unwrap(),
    );
    let a = launch(&*s, 3).await;
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query(&format!(
        "CREATE TRIGGER injected BEFORE UPDATE ON instances WHEN OLD.instance_id = '{}' \
         BEGIN SELECT RAISE(FAIL, 'injected'); END",
        a[1].instance_id
    ))
    .execute(&mut other)
    .await
    .unwrap();
    other.close().await.unwrap();
    // A launch of one instance with the id given, as a spawned task.
    let launch_as = |id: &str| {
        let mut i = a[2].clone();
        i.instance_id = id.to_string();
        launch_copy(s.clone(), i)
    };
    let failing_update = || {
        let (s, id) = (s.clone(), a[1].instance_id.clone());
        tokio::spawn(async move { set_required(&s, &[id]).await })
    };
    let pause = || tokio::time::sleep(Duration::from_millis(20));
    // One batch: a launch, the failing update, a launch.
    let held = hold_the_writer(s.clone(), a[0].instance_id.clone()).await;
    let before = launch_as("i-0000000000000b001");
    pause().await;
    let update = failing_update();
    pause().await;
    let after = launch_as("i-0000000000000b002");
    held.await.unwrap().unwrap();
    let e = before
        .await
        .unwrap()
        .expect_err("the launch before is not committed");
    assert!(e.to_string().contains("rolled back"), "{e}");
    assert!(update
        .await
        .unwrap()
        .unwrap_err()
        .to_string()
        .contains("injected"));
    assert_eq!(after.await.unwrap().unwrap().instances.len(), 1);
    // Another: the failing update first, then a launch.
    let held = hold_the_writer(s.clone(), a[0].instance_id.clone()).await;
    let update = failing_update();
    pause().await;
    let last = launch_as("i-0000000000000b003");
    held.await.unwrap().unwrap();
    assert!(update.await.unwrap().is_err());
    assert_eq!(last.await.unwrap().unwrap().instances.len(), 1);
    let find = |id: &str| {
        let (s, ids) = (s.clone(), vec![id.to_string()]);
        async move { s.instances(&scope(), &ids).await }
    };
    assert!(matches!(
        find("i-0000000000000b001").await,
        Err(store::StoreError::Refused(
            Ec2Error::InvalidInstanceIdNotFound(_)
        ))
    ));
    assert_eq!(find("i-0000000000000b002").await.unwrap().len(), 1);
    assert_eq!(find("i-0000000000000b003").await.unwrap().len(), 1);
    let now = s
        .instances(&scope(), &[a[1].instance_id.clone()])
        .await
        .unwrap();
    assert_eq!(now[0].metadata.http_tokens, a[1].metadata.http_tokens);
    assert_eq!(now[0].options_generation, a[1].options_generation);
    s.close().await;
}

/// The frames of the WAL at `wal` written since it last started again (those that carry
/// its header's salts; see SQLite's "WAL-mode file format").
fn current_frames(wal: &std::path::Path) -> usize {
    let bytes = std::fs::read(wal).unwrap_or_default();
    if bytes.len() < 32 {
        return 0;
    }
    let page = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let salts = &bytes[16..24];
    bytes[32..]
        .chunks(24 + page)
        .take_while(|f| f.len() == 24 + page && &f[8..16] == salts)
        .count()
}

/// A durable store of 3,000 instances, and the ids of fifty spread over the fleet (rows on
/// pages of their own, as are their entries in `instances_subnet`, by subnet and address).
async fn fifty_spread(path: &std::path::Path) -> (SqliteStore, Vec<String>) {
    let s = SqliteStore::open(path, Durability::Durable).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.extend(launch(&s, 500).await.into_iter().map(|i| i.instance_id));
    }
    let spread = ids.iter().step_by(60).take(50).cloned().collect();
    (s, spread)
}

/// A metadata host's acknowledgement rewrites the instance's row and takes it out of the
/// pending indexes; it moves no entry of an index whose columns it leaves as they were.
/// SQLite moves an index's entry whenever an `UPDATE` sets one of its columns, to the same
/// value or not: acknowledgements that set `private_ip` wrote a page of `instances_subnet`
/// for each instance, about as many pages again as their rows.
#[tokio::test]
async fn acknowledgements_write_their_rows_and_no_index_they_leave_alone() {
    let d = temp("acked-pages");
    let path = d.0.join("db");
    let (s, spread) = fifty_spread(&path).await;
    let changed = require_tokens(&s, &spread).await;
    assert_eq!(changed.len(), 50);
    s.close().await; // the WAL emptied into the main file
    let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
    let acks: Vec<(String, u64)> = changed
        .into_iter()
        .map(|(_, after)| (after.instance_id, after.options_generation))
        .collect();
    assert_eq!(s.mark_applied(&acks).await.unwrap(), 50);
    let frames = current_frames(&d.0.join("db-wal"));
    // 50 row pages, a few of the pending indexes and of the feed.
    assert!(
        (50..=60).contains(&frames),
        "50 acknowledgements wrote {frames} pages"
    );
    s.close().await;
}

/// Requiring IMDSv2 rewrites the instance's row and moves its entry of the options' index
/// (`instances_options_scope`, schema 9) and of the pending ones: as filter rows of
/// `instance_attrs` it also rewrote the instance's leaf of their primary key and moved an
/// entry of `instance_attrs_scope`, about twice as many pages as the rows.
#[tokio::test]
async fn requiring_tokens_writes_the_rows_and_an_index_entry_each() {
    let d = temp("required-pages");
    let path = d.0.join("db");
    let (s, spread) = fifty_spread(&path).await;
    s.close().await; // the WAL emptied into the main file
    let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
    assert_eq!(require_tokens(&s, &spread).await.len(), 50);
    let frames = current_frames(&d.0.join("db-wal"));
    // 50 row pages, the ~30 leaves of the options' index the optional instances' entries
    // leave, a few where the required ones go, the pending indexes and the feed.
    assert!(
        (50..=95).contains(&frames),
        "50 modifications wrote {frames} pages"
    );
    s.close().await;
}

/// The writer does not checkpoint the WAL in its commits (`sqlite::checkpoint`): another
/// connection copies committed pages into the main file shortly after, so the main file
/// grows while the store is open, though the writer's connection has `wal_autocheckpoint=0`.
#[tokio::test]
async fn committed_pages_reach_the_main_file_beside_the_writer() {
    let d = temp("checkpoint");
    let path = d.0.join("db");
    let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let main_before = size(&path);
    for _ in 0..4 {
        launch(&s, 500).await;
    }
    let wal = d.0.join("db-wal");
    assert!(size(&wal) > 1 << 20, "the launches wrote to the WAL");
    let mut grown = false;
    for _ in 0..100 {
        if size(&path) > main_before + (1 << 20) {
            grown = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        grown,
        "the main file stayed at {} bytes (it was {main_before}) while the WAL holds {}",
        size(&path),
        size(&wal)
    );
    s.close().await;
}
