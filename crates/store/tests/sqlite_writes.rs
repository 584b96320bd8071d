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
use store::conformance::{hold_the_writer, launch};
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

/// A batch's own round trips around its jobs: BEGIN, the savepoints' boundaries, COMMIT,
/// and reading the feed's latest number.
const BATCH: u64 = 5;

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
    s.update_instances(
        &scope(),
        &ids,
        store::ungated(),
        Box::new(|i, _| {
            i.metadata.http_tokens = HttpTokens::Required;
            i.options_generation += 1;
            Ok(())
        }),
    )
    .await
    .unwrap();
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
