//! The metadata host over the real SQLite store (in a temporary directory): `pending` →
//! `applied` below the server (the follower and the applier, with time passed in, so nothing
//! sleeps), and the listeners of per-instance endpoints at shutdown.

use crate::applier::Applier;
use crate::follower::Follower;
use crate::served::ServedTable;
use model::change::ChangeKind;
use model::{catalogue, HttpTokens, Instance, InstanceState, OptionsPatch, Scope};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::sqlite::{Durability, SqliteStore};
use store::{Feed, InstanceStore, LaunchRequest};

const DELAY: Duration = Duration::from_secs(2);
const DELAY_MS: i64 = 2_000;

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store, and a metadata host's table, follower and applier on it.
struct Harness {
    _dir: Dir,
    store: Arc<SqliteStore>,
    table: ServedTable,
    follower: Follower,
    applier: Applier,
}

fn scope() -> Scope {
    Scope::new(model::DEFAULT_ACCOUNT, model::DEFAULT_REGION)
}

impl Harness {
    async fn new(name: &str) -> Harness {
        let dir = std::env::temp_dir().join(format!("imds-host-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.join("db"), Durability::Volatile)
                .await
                .unwrap(),
        );
        let cursor = *store.watch().borrow();
        Harness {
            _dir: Dir(dir),
            follower: Follower::new(store.clone(), cursor),
            store,
            table: ServedTable::new(),
            applier: Applier::new(DELAY),
        }
    }

    /// Start following: load every instance the store has.
    async fn load(&mut self) {
        self.follower.load(&self.table, &mut self.applier).await;
    }

    /// Read the feed up to the latest change.
    async fn follow(&mut self) {
        let latest = *self.store.watch().borrow();
        self.follower
            .catch_up(latest, &self.table, &mut self.applier)
            .await;
    }

    /// Let the applier do what is due at `now_ms`, then read what that wrote.
    async fn at(&mut self, now_ms: i64) {
        self.applier
            .run_due(now_ms, &self.table, &*self.store)
            .await;
        self.follow().await;
    }

    async fn launch(&self) -> String {
        let subnet = catalogue::default_vpc(model::DEFAULT_REGION).subnets[0]
            .subnet_id
            .clone();
        let sub = subnet.clone();
        let outcome = self
            .store
            .launch(
                &scope(),
                LaunchRequest {
                    count: 1,
                    client_token: None,
                    subnet_id: subnet,
                    private_ip: None,
                },
                Box::new(move |lc| {
                    let mut i = model::testing::instance("m5.large");
                    i.scope = scope();
                    i.instance_id = format!("i-{:017x}", u32::from(lc.addresses[0]));
                    i.private_ip = lc.addresses[0];
                    i.subnet_id = sub;
                    Ok(vec![i])
                }),
            )
            .await
            .unwrap();
        outcome.instances[0].instance_id.clone()
    }

    async fn update(&self, id: &str, f: impl FnMut(&mut Instance) + Send + 'static) -> Instance {
        let mut f = f;
        self.store
            .update_instances(
                &scope(),
                &[id.to_string()],
                store::ungated(),
                Box::new(move |i, _| {
                    f(i);
                    Ok(())
                }),
            )
            .await
            .unwrap()
            .remove(0)
            .1
    }

    /// Ask for `required` tokens (a new generation of options).
    async fn require_tokens(&self, id: &str) {
        self.update(id, |i| {
            let patch = OptionsPatch {
                http_tokens: Some(HttpTokens::Required),
                ..Default::default()
            };
            i.modify_metadata(&patch, &Default::default()).unwrap();
        })
        .await;
    }

    async fn set_state(&self, id: &str, state: InstanceState) {
        self.update(id, move |i| i.state = state).await;
    }

    /// The instance as the store has it.
    async fn stored(&self, id: &str) -> Instance {
        self.store.instance_by_id(id).await.unwrap().unwrap()
    }

    /// The tokens setting the table serves, and its generation.
    fn served_tokens(&self, id: &str) -> (HttpTokens, u64) {
        let s = self.table.served(id).unwrap();
        (s.view.options.http_tokens, s.view.generation)
    }
}

#[tokio::test]
async fn a_change_is_switched_only_after_the_delay() {
    let mut h = Harness::new("delay").await;
    let id = h.launch().await;
    h.load().await;
    let asked = model::time::now_ms();
    h.require_tokens(&id).await;
    let written = model::time::now_ms();
    h.follow().await;
    // The previous options stay in force until the delay has passed.
    assert_eq!(h.served_tokens(&id), (HttpTokens::Optional, 1));
    h.at(asked + DELAY_MS - 1).await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Optional, 1));
    assert_eq!(h.stored(&id).await.applied_generation, 1);
    h.at(written + DELAY_MS).await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Required, 2));
    assert_eq!(h.stored(&id).await.applied_generation, 2);
}

#[tokio::test]
async fn its_own_acknowledgement_does_not_reinstall() {
    let mut h = Harness::new("echo").await;
    let id = h.launch().await;
    h.load().await;
    h.require_tokens(&id).await;
    h.follow().await;
    let seen = *h.store.watch().borrow();
    h.applier
        .run_due(model::time::now_ms() + DELAY_MS, &h.table, &*h.store)
        .await;
    let switched = h.table.served(&id).unwrap();
    let mut changed = h.table.subscribe();
    changed.mark_unchanged();
    h.follow().await;
    let echo = h.store.changes_after(seen, 10).await.unwrap();
    assert_eq!(
        echo.iter().map(|c| c.kind).collect::<Vec<_>>(),
        vec![ChangeKind::Applied]
    );
    assert!(Arc::ptr_eq(&switched, &h.table.served(&id).unwrap()));
    assert!(!changed.has_changed().unwrap());
}

#[tokio::test]
async fn a_stopped_instance_stays_pending_until_it_starts() {
    let mut h = Harness::new("stopped").await;
    let id = h.launch().await;
    h.load().await;
    h.set_state(&id, InstanceState::Stopped).await;
    h.require_tokens(&id).await;
    h.follow().await;
    h.at(model::time::now_ms() + 10 * DELAY_MS).await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Optional, 1));
    assert_eq!(h.stored(&id).await.applied_generation, 1);
    let starting = model::time::now_ms();
    h.set_state(&id, InstanceState::Running).await;
    h.follow().await;
    h.at(starting + DELAY_MS - 1).await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Optional, 1));
    h.at(model::time::now_ms() + DELAY_MS).await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Required, 2));
    assert_eq!(h.stored(&id).await.applied_generation, 2);
}

#[tokio::test]
async fn pending_changes_found_at_start_are_applied() {
    let mut h = Harness::new("recover").await;
    let id = h.launch().await;
    h.require_tokens(&id).await;
    let loading = model::time::now_ms();
    h.load().await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Optional, 1));
    h.at(loading + DELAY_MS - 1).await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Optional, 1));
    h.at(model::time::now_ms() + DELAY_MS).await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Required, 2));
    assert_eq!(h.stored(&id).await.applied_generation, 2);
}

#[tokio::test]
async fn a_follower_behind_the_trimmed_feed_reloads() {
    let mut h = Harness::new("behind").await;
    let first = h.launch().await;
    h.load().await;
    h.update(&first, |i| {
        i.tags.push(model::tags::Tag {
            key: "Name".into(),
            value: "web".into(),
        })
    })
    .await;
    let second = h.launch().await;
    // The lifecycle trims the feed to its latest change (the second launch).
    h.store
        .advance(model::time::now_ms() + 2 * 3_600_000, 0)
        .await
        .unwrap();
    h.follow().await;
    assert!(h.table.served(&second).is_some());
    assert_eq!(h.table.served(&first).unwrap().view.tags.len(), 1);
}

#[tokio::test]
async fn a_record_written_before_the_acknowledgement_keeps_the_switch() {
    let table = ServedTable::new();
    let mut i = model::testing::instance("m5.large");
    i.modify_metadata(
        &OptionsPatch {
            http_tokens: Some(HttpTokens::Required),
            ..Default::default()
        },
        &Default::default(),
    )
    .unwrap();
    assert!(table.install(&i));
    assert!(
        !table.switch(&i.instance_id, 3),
        "not the desired generation"
    );
    assert!(table.switch(&i.instance_id, 2));
    assert!(!table.switch(&i.instance_id, 2), "already in force");
    // Tags written before the store recorded `applied`: the switch holds.
    i.tags.push(model::tags::Tag {
        key: "Name".into(),
        value: "web".into(),
    });
    assert!(table.install(&i));
    let s = table.served(&i.instance_id).unwrap();
    assert_eq!(s.view.options.http_tokens, HttpTokens::Required);
    assert_eq!(s.view.generation, 2);
    assert_eq!(s.view.tags.len(), 1);
}

/// A shutdown waits for every endpoint's listeners to drain, and then nothing listens.
#[tokio::test]
async fn endpoints_close_and_are_awaited_at_shutdown() {
    let h = Harness::new("endpoints").await;
    let id = h.launch().await;
    let host = crate::Host::new(
        h.store.clone(),
        DELAY,
        Arc::new(crate::identity::IdentitySigner::load_or_create(None).unwrap()),
        Arc::new(iam::session::SessionKey::random()),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(host.clone().run(stopped.clone()));
    host.loaded().await;
    let limits = listen::Limits {
        max_connections: 16,
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        body_timeout: None,
        max_headers: 100,
        max_header_bytes: 16 * 1024,
        drain_timeout: Duration::from_secs(5),
    };
    let gate = listen::Gate::new("metadata service", limits);
    let endpoints = crate::endpoints::Endpoints::new(host, gate, stopped);
    let addr = endpoints.open(&id, None).unwrap().v4;
    tokio::net::TcpStream::connect(addr).await.unwrap();
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), endpoints.closed())
        .await
        .expect("the endpoint's tasks end once the server stops");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    running.await.unwrap();
}
