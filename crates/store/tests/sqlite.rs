//! The SQLite store through its public interface, on a real file: the conformance suite
//! (`imds_store::conformance`) on a durable store in a temp dir, and what only SQLite has.

use imds_store as store;

use std::sync::Arc;
use store::conformance::{self, launch, Backend};
use store::sqlite::{Durability, SqliteStore};
use store::Store;

use store::conformance::TempDir as Dir;

fn temp(name: &str) -> Dir {
    Dir::new(&format!("store-{name}"))
}

/// One SQLite file in a temp dir, removed after the test.
struct Sqlite(Dir);

impl Backend for Sqlite {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(
            SqliteStore::open(&self.0 .0.join("db"), Durability::Durable)
                .await
                .unwrap(),
        )
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            conformance::$name(&Sqlite(temp(stringify!($name)))).await;
        }
    )*};
}

store::every_conformance_case!(conformance);

/// Issue 10: a store with corrupted pages started and then answered 500s; a 0-byte file
/// started as an empty fleet without a word. Damaged files are refused at open, naming the
/// file; an empty file is a new store.
#[tokio::test]
async fn damaged_stores_are_refused_and_empty_files_are_new() {
    let d = temp("damaged");
    let path = d.0.join("db");
    {
        let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
        assert!(s.created());
        launch(&s, 300).await;
        s.close().await;
    }
    {
        let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
        assert!(!s.created(), "an existing store is not new");
        s.close().await;
    }
    assert!(
        !d.0.join("db-wal").exists() || std::fs::metadata(d.0.join("db-wal")).unwrap().len() == 0,
        "closed stores are checkpointed"
    );
    let good = std::fs::read(&path).unwrap();
    assert!(good.len() > 16 * 4096, "{} bytes", good.len());

    // Pages in the middle overwritten: SQLite itself would open the file.
    let mut bad = good.clone();
    for (i, b) in bad[8 * 4096..12 * 4096].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&path, &bad).unwrap();
    let err = SqliteStore::open(&path, Durability::Durable)
        .await
        .err()
        .expect("a damaged store is refused");
    assert!(matches!(err, store::StoreError::Damaged { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("move it aside"), "{message}");

    // Not a database at all.
    std::fs::write(&path, vec![0x5a; 64 * 1024]).unwrap();
    let err = SqliteStore::open(&path, Durability::Durable).await.err();
    assert!(
        matches!(err, Some(store::StoreError::Damaged { .. })),
        "{err:?}"
    );

    // Empty: a new store.
    std::fs::write(&path, b"").unwrap();
    let s = SqliteStore::open(&path, Durability::Durable).await.unwrap();
    assert!(s.created(), "an empty file is a new store");
    s.close().await;
}

/// The rows' event column (schema 10) in `pk` order, read beside the open store (WAL).
async fn event_columns(path: &std::path::Path) -> Vec<(String, Option<i64>)> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let rows = sqlx::query_as("SELECT instance_id, event_due_ms FROM instances ORDER BY pk")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows
}

/// Writes that move an instance's next event step set `event_due_ms` to
/// `Instance::next_event_ms` (the others leave it), in one group with writes that do not
/// (`writer::instances::run_updates`); a column
/// out of step with its document (nothing writes one) is set right by the event job rather
/// than read as due forever (the lifecycle driver calls again while something is due).
#[tokio::test]
async fn the_event_column_follows_the_documents() {
    let d = temp("event-column");
    let path = d.0.join("db");
    let s: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, Durability::Durable).await.unwrap());
    let all = launch(&*s, 5).await;
    let ids: Vec<String> = all.iter().map(|i| i.instance_id.clone()).collect();
    let t0 = model::time::now_ms() + 3_600_000;
    // One group of updates: events for 0 and 2, an options write for 1 and 2.
    let held = conformance::hold_the_writer(s.clone(), ids[4].clone()).await;
    let mut writes = Vec::new();
    for (n, id) in ids.iter().enumerate().take(3) {
        let s = s.clone();
        let id = id.clone();
        writes.push(tokio::spawn(async move {
            s.update_instances(
                &model::Scope::new("123456789012", "us-west-2"),
                &[id],
                store::ungated(),
                Box::new(move |i, _| {
                    if n != 1 {
                        let schedule = model::events::EventSchedule {
                            code: model::events::EventCode::SystemReboot,
                            description: None,
                            not_before_ms: t0 + n as i64,
                            window_ms: None,
                            deadline_ms: None,
                        };
                        i.schedule_event(schedule, format!("instance-event-{n}"))?;
                    }
                    if n != 0 {
                        i.metadata.http_tokens = model::HttpTokens::Required;
                        i.options_generation += 1;
                    }
                    Ok(())
                }),
            )
            .await
            .unwrap()
        }));
    }
    held.await.unwrap().unwrap();
    for w in writes {
        w.await.unwrap();
    }
    let expected = |at: [Option<i64>; 5]| -> Vec<(String, Option<i64>)> {
        ids.iter().cloned().zip(at).collect()
    };
    assert_eq!(
        event_columns(&path).await,
        expected([Some(t0), None, Some(t0 + 2), None, None])
    );
    assert_eq!(s.next_event_due().await.unwrap(), Some(t0));
    assert_eq!(s.take_due_events(t0, 10).await.unwrap(), Some(t0 + 2));
    assert_eq!(
        event_columns(&path).await,
        expected([None, None, Some(t0 + 2), None, None])
    );

    // Out of step: instance 3 has no events, its column says due.
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query("UPDATE instances SET event_due_ms = 5 WHERE instance_id = ?")
            .bind(&ids[3])
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let fed = s.changes_after(0, 10_000).await.unwrap().len();
    assert_eq!(s.next_event_due().await.unwrap(), Some(5));
    assert_eq!(s.take_due_events(t0, 10).await.unwrap(), Some(t0 + 2));
    assert_eq!(event_columns(&path).await[3], (ids[3].clone(), None));
    assert_eq!(
        s.changes_after(0, 10_000).await.unwrap().len(),
        fed,
        "nothing changed, nothing fed"
    );
    assert_eq!(
        s.instance_by_id(&ids[3]).await.unwrap().as_ref(),
        Some(&all[3])
    );
    s.close().await;
}
