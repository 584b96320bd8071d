//! Issue 13: a metadata host starting on a million instances loads them from compact columns
//! (schema 6), never from the instances' documents (nor do acknowledgements and the
//! lifecycle's steps read them); a store of schema 5 opens with those
//! columns filled from its documents; and the check of the file's pages, which may run beside
//! the load, still refuses a damaged store.

use imds_store as store;

use model::HttpTokens;
use sqlx::{Connection, SqliteConnection};
use std::path::Path;
use store::conformance::{launch, require_tokens};
use store::instances::ServedRecord;
use store::sqlite::{Durability, SqliteStore};
use store::{InstanceStore, Store};

use store::conformance::TempDir as Dir;

fn temp(name: &str) -> Dir {
    Dir::new(&format!("served-{name}"))
}

fn scope() -> model::Scope {
    model::Scope::new("123456789012", "us-west-2")
}

/// 40 instances: some with IMDSv2 required and a hop limit of 3 (pending), some of those
/// applied, some with a profile association to settle, one terminated.
async fn fleet(s: &SqliteStore) {
    let launched = launch(s, 40).await;
    let ids = |step: usize| -> Vec<String> {
        launched
            .iter()
            .step_by(step)
            .map(|i| i.instance_id.clone())
            .collect()
    };
    s.update_instances(
        &scope(),
        &ids(3),
        store::ungated(),
        Box::new(|i, _| {
            let patch = model::OptionsPatch {
                http_tokens: Some(HttpTokens::Required),
                hop_limit: Some(model::HopLimit::new(3).unwrap()),
                ..Default::default()
            };
            i.modify_metadata(&patch, &Default::default())
        }),
    )
    .await
    .unwrap();
    let applied: Vec<(String, u64)> = ids(6).into_iter().map(|i| (i, 2)).collect();
    s.mark_applied(&applied).await.unwrap();
    s.update_instances(
        &scope(),
        &ids(5),
        store::ungated(),
        Box::new(|i, _| {
            let profile = model::instance::IamProfileRef {
                arn: "arn:aws:iam::123456789012:instance-profile/web".into(),
                id: "AIPAEXAMPLE0000000001".into(),
                role: None,
            };
            i.associate_profile(profile, format!("iip-assoc-{}", &i.instance_id[2..]), 7)
                .map(|_| ())
        }),
    )
    .await
    .unwrap();
    s.update_instances(
        &scope(),
        &ids(7)[..1],
        store::ungated(),
        Box::new(|i, _| {
            i.state = model::InstanceState::Terminated;
            Ok(())
        }),
    )
    .await
    .unwrap();
}

/// Every instance as the host loads it, 7 a page.
async fn served(s: &SqliteStore) -> Vec<ServedRecord> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = s.served_instances(after, 7).await.unwrap();
        out.extend(page.records);
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

/// Every instance as its document says, in launch order.
async fn records(s: &SqliteStore) -> Vec<ServedRecord> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = s.all_instances(after, 7).await.unwrap();
        out.extend(page.instances.iter().map(ServedRecord::of));
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

async fn sql(path: &Path, statements: &str) {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql(statements).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// The host's load reads no document, nor does the change feed a host follows: with every
/// document made unreadable, it loads the same instances and reads each change with its
/// instance's record (while reading any instance whole fails).
#[tokio::test]
async fn the_served_load_and_the_feed_read_no_document() {
    let d = temp("nodoc");
    let path = d.0.join("db");
    let before = {
        let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
        fleet(&s).await;
        let before = served(&s).await;
        assert_eq!(before, records(&s).await);
        let pending = |r: &&ServedRecord| r.options_generation > r.applied_generation;
        assert!(before.iter().any(|r| pending(&r)));
        assert!(before
            .iter()
            .any(|r| !pending(&r) && r.metadata.http_tokens == HttpTokens::Required));
        assert!(before.iter().any(|r| r.unsettled_association.is_some()));
        s.close().await;
        before
    };
    sql(&path, "UPDATE instances SET doc = '{ not json'").await;
    let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
    assert!(
        s.all_instances(None, 7).await.is_err(),
        "the documents are unreadable"
    );
    assert_eq!(served(&s).await, before);
    let feed = store::Feed::changes_after(&s, 0, 1000).await.unwrap();
    assert!(!feed.is_empty());
    for c in &feed {
        let now = before.iter().find(|r| r.instance_id == c.instance_id);
        assert_eq!(c.served.as_ref(), now, "{:?} {}", c.kind, c.instance_id);
    }
    s.close().await;
}

/// A metadata host's acknowledgement is decided and written on the instance's columns: with
/// every document replaced by one that is no instance, the pending instances are
/// acknowledged as before (their records say `applied`), and the older or repeated
/// acknowledgements are refused.
#[tokio::test]
async fn an_acknowledgement_decodes_no_document() {
    let d = temp("ack");
    let path = d.0.join("db");
    let pending: Vec<(String, u64)> = {
        let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
        fleet(&s).await;
        let pending = served(&s)
            .await
            .into_iter()
            .filter(|r| r.options_generation > r.applied_generation)
            .filter(|r| r.state == model::InstanceState::Running)
            .map(|r| (r.instance_id, r.options_generation))
            .collect();
        s.close().await;
        pending
    };
    assert!(!pending.is_empty());
    sql(&path, "UPDATE instances SET doc = '{}'").await;
    let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
    assert!(
        s.all_instances(None, 7).await.is_err(),
        "no document is an instance"
    );
    let older: Vec<(String, u64)> = pending.iter().map(|(i, g)| (i.clone(), g - 1)).collect();
    assert_eq!(s.mark_applied(&older).await.unwrap(), 0);
    assert_eq!(s.mark_applied(&pending).await.unwrap(), pending.len());
    assert_eq!(s.mark_applied(&pending).await.unwrap(), 0, "taken once");
    for r in served(&s).await {
        if pending.iter().any(|(id, _)| *id == r.instance_id) {
            assert_eq!(r.applied_generation, r.options_generation);
            assert_eq!(r.applied_metadata, Some(r.metadata));
        }
    }
    s.close().await;
}

/// A step of the lifecycle is decided and written on the instance's columns: with every
/// document replaced by one that is no instance, the instances due are stepped as before
/// (their records say `stopped`, their state filter rows say so too) and the others are left
/// alone. (Failed with the lifecycle of f55710c, which decoded each due instance.)
#[tokio::test]
async fn a_lifecycle_step_decodes_no_document() {
    let d = temp("step");
    let path = d.0.join("db");
    let now = model::time::now_ms();
    let stopping: Vec<String> = {
        let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
        fleet(&s).await;
        let running: Vec<String> = served(&s)
            .await
            .into_iter()
            .filter(|r| r.state == model::InstanceState::Running)
            .map(|r| r.instance_id)
            .collect();
        let stopping: Vec<String> = running.into_iter().step_by(4).collect();
        s.update_instances(
            &scope(),
            &stopping,
            store::ungated(),
            Box::new(move |i, _| i.stop(now, 60_000, false).map(|_| ())),
        )
        .await
        .unwrap();
        s.close().await;
        stopping
    };
    assert!(stopping.len() > 2);
    sql(&path, "UPDATE instances SET doc = '{}'").await;
    let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
    assert!(
        s.all_instances(None, 7).await.is_err(),
        "no document is an instance"
    );
    let before = served(&s).await;
    s.advance(now + 60_000, 0).await.unwrap();
    for (b, r) in before.iter().zip(served(&s).await) {
        assert_eq!(b.instance_id, r.instance_id);
        let expected = if stopping.contains(&r.instance_id) {
            model::InstanceState::Stopped
        } else {
            b.state
        };
        assert_eq!(r.state, expected, "{}", r.instance_id);
    }
    s.close().await;
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.instance_id, a.value FROM instance_attrs a JOIN instances i ON i.pk = a.pk \
         WHERE a.name = 'instance-state-name' AND a.value IN ('stopping', 'stopped') ORDER BY i.pk",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let expected: Vec<(String, String)> = stopping
        .iter()
        .map(|id| (id.clone(), "stopped".to_string()))
        .collect();
    assert_eq!(rows, expected);
}

/// A store of schema 5 (no compact columns, nor anything later) opens with them filled from each document, and
/// the writes that follow keep them current.
#[tokio::test]
async fn a_store_of_schema_5_opens_with_its_served_columns_filled() {
    let d = temp("migrate");
    let path = d.0.join("db");
    let before = {
        let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
        fleet(&s).await;
        let before = records(&s).await;
        s.close().await;
        before
    };
    sql(
        &path,
        "DROP INDEX instances_options_scope;
         INSERT INTO instance_attrs (pk, scope, name, value)
             SELECT pk, (SELECT id FROM scopes s WHERE s.account = i.account AND s.region = i.region),
                 'metadata-options.http-tokens',
                 CASE WHEN options & 256 THEN 'required' ELSE 'optional' END FROM instances i;
         ALTER TABLE instances DROP COLUMN launch_time_ms;
         ALTER TABLE instances DROP COLUMN options;
         ALTER TABLE instances DROP COLUMN options_generation;
         ALTER TABLE instances DROP COLUMN applied_generation;
         ALTER TABLE instances DROP COLUMN applied_options;
         ALTER TABLE instances DROP COLUMN unsettled_association;
         ALTER TABLE changes ADD COLUMN doc TEXT;
         DROP INDEX instances_pending_scope;
         DROP INDEX instances_event_due;
         ALTER TABLE instances DROP COLUMN event_due_ms;
         DROP TABLE documents;
         PRAGMA user_version = 5;",
    )
    .await;
    let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
    assert!(!s.created());
    assert_eq!(served(&s).await, before);
    let first = before[1].instance_id.clone();
    require_tokens(&s, std::slice::from_ref(&first)).await;
    launch(&s, 3).await;
    let after = served(&s).await;
    assert_eq!(after, records(&s).await);
    assert_eq!(after.len(), before.len() + 3);
    assert_eq!(after[1].metadata.http_tokens, HttpTokens::Required);
    s.close().await;
}

/// The durable store at `path`, its check passed, with `n` instances more.
async fn launched_into(path: &Path, n: u32) -> SqliteStore {
    let (s, check) = SqliteStore::open_checking(path, Durability::Durable)
        .await
        .unwrap();
    check.passed().await.unwrap();
    launch(&s, n).await;
    s
}

/// The check that may run beside the start refuses a damaged store as `open` does, and a
/// store it passes takes writes.
#[tokio::test]
async fn the_check_beside_the_start_refuses_a_damaged_store() {
    let d = temp("check");
    let path = d.0.join("db");
    launched_into(&path, 300).await.close().await;
    {
        let (s, check) = SqliteStore::open_checking(&path, Durability::Durable)
            .await
            .unwrap();
        check.passed().await.unwrap();
        assert_eq!(launch(&s, 1).await.len(), 1);
        s.close().await;
    }
    let mut bad = std::fs::read(&path).unwrap();
    assert!(bad.len() > 16 * 4096, "{} bytes", bad.len());
    for (i, b) in bad[8 * 4096..12 * 4096].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&path, &bad).unwrap();
    let err = match SqliteStore::open_checking(&path, Durability::Durable).await {
        Ok((s, check)) => {
            let err = check
                .passed()
                .await
                .expect_err("a damaged store is refused");
            s.close().await;
            err
        }
        Err(e) => e,
    };
    assert!(matches!(err, store::StoreError::Damaged { .. }), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

/// A store closed cleanly and untouched since is not checked again at its next open (the
/// check reads the whole file: most of a restart at a million instances); one written since,
/// even with the same bytes, or never closed cleanly, is. (Damaged right after a clean
/// close, it is refused: `sqlite.rs`'s `damaged_stores_are_refused_and_empty_files_are_new`.)
#[tokio::test]
async fn a_clean_close_spares_the_next_open_its_check_until_the_file_is_written() {
    let d = temp("clean");
    let path = d.0.join("db");
    let open = || SqliteStore::open_checking(&path, Durability::Durable);
    let (s, check) = open().await.unwrap();
    assert!(!check.runs(), "a new store has nothing to check");
    launch(&s, 300).await;
    s.close().await;

    let (s, check) = open().await.unwrap();
    assert!(!check.runs(), "untouched since its clean close");
    check.passed().await.unwrap();
    launch(&s, 1).await;
    s.close().await;

    // The same bytes written again: the file was written, so it is checked.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let (s, check) = open().await.unwrap();
    assert!(check.runs(), "written since its clean close");
    check.passed().await.unwrap();

    // Not closed: the next open checks.
    drop(s);
    let (s, check) = open().await.unwrap();
    assert!(check.runs(), "not closed cleanly");
    check.passed().await.unwrap();
    s.close().await;
}

/// A close empties the WAL into the main file even while another connection checkpoints:
/// SQLite answers a checkpoint that finds another running with "busy" (a row, not an
/// error), and the close took that as done, left the WAL full and recorded no clean close,
/// so the next open read the whole file again (most of a restart at a million instances).
/// Here another connection's `RESTART` holds the checkpoint while a reader keeps it waiting.
#[tokio::test]
async fn a_close_empties_the_wal_though_another_connection_is_checkpointing() {
    let d = temp("close-busy");
    let path = d.0.join("db");
    let s = launched_into(&path, 300).await;
    let url = format!("sqlite://{}", path.display());
    // A reader on the WAL's frames, then a checkpoint that waits for it to leave them.
    let mut reader = SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; SELECT count(*) FROM instances")
        .execute(&mut reader)
        .await
        .unwrap();
    let mut other = SqliteConnection::connect(&url).await.unwrap();
    let checkpoint = tokio::spawn(async move {
        let busy: (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(RESTART)")
            .fetch_one(&mut other)
            .await
            .unwrap();
        busy
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !checkpoint.is_finished(),
        "the checkpoint waits for the reader"
    );
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        sqlx::raw_sql("COMMIT").execute(&mut reader).await.unwrap();
    };
    tokio::join!(s.close(), release);
    assert_eq!(checkpoint.await.unwrap().0, 0, "the other checkpoint ran");
    let wal = std::fs::metadata(d.0.join("db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "the close left {wal} bytes of WAL");
    let (s, check) = SqliteStore::open_checking(&path, Durability::Durable)
        .await
        .unwrap();
    assert!(!check.runs(), "closed cleanly: not checked again");
    assert_eq!(
        s.served_instances(None, 1000).await.unwrap().records.len(),
        300,
        "every instance is in the main file"
    );
    s.close().await;
}
