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
