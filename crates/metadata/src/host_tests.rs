//! The metadata host over the real SQLite store (in a temporary directory): `pending` →
//! `applied` below the server (the follower and the applier, with time passed in, so nothing
//! waits out a delay; one test parts two writes' times by 50 ms), and the listeners of
//! per-instance endpoints at shutdown.

use crate::applier::Applier;
use crate::follower::Follower;
use crate::ownership::Ownership;
use crate::rendered::Rendered;
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
        Harness::with_cache(name, crate::rendered::CACHE_CAPACITY).await
    }

    /// A harness whose table keeps at most `capacity` rendered instances.
    async fn with_cache(name: &str, capacity: usize) -> Harness {
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
            table: ServedTable::with_cache(capacity),
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
        self.at_as(now_ms, &Ownership::Every).await;
    }

    /// The same, on a host that owns what `owns` gives it.
    async fn at_as(&mut self, now_ms: i64, owns: &Ownership) {
        self.applier
            .run_due(now_ms, &self.table, &*self.store, owns)
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
        (s.options.http_tokens, s.generation)
    }

    /// The instance as a request for its data sees it (rendered, or kept).
    async fn rendered(&self, id: &str) -> Arc<Rendered> {
        let s = self.table.served(id).unwrap();
        crate::host::render(&self.table, &*self.store, &s)
            .await
            .unwrap()
            .unwrap()
    }
}

/// Issue 14: of several hosts, only the instance's owner switches and acknowledges; the
/// others serve the change when the owner's acknowledgement reaches them through the feed.
/// When the owner leaves the live set, the host that reloads finds what it left pending.
#[tokio::test]
async fn only_the_owner_switches_and_a_host_that_gains_an_instance_applies_its_change() {
    let mut h = Harness::new("owner").await;
    let id = h.launch().await;
    h.load().await;
    let live = vec!["host-a".to_string(), "host-b".to_string()];
    let owner = model::placement::owner(&id, &live).unwrap().clone();
    let me = live.iter().find(|h| **h != owner).unwrap().clone();
    let not_mine = Ownership::Among {
        me: me.clone(),
        live: live.clone(),
    };
    h.require_tokens(&id).await;
    h.follow().await;
    h.at_as(model::time::now_ms() + DELAY_MS, &not_mine).await;
    assert_eq!(
        h.served_tokens(&id),
        (HttpTokens::Optional, 1),
        "not switched"
    );
    assert_eq!(
        h.stored(&id).await.applied_generation,
        1,
        "not acknowledged"
    );
    // The owner acknowledges (as its applier does): this host serves it from the feed.
    h.store.mark_applied(&[(id.clone(), 2)]).await.unwrap();
    h.follow().await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Required, 2));
    // Another change while the owner is alive: still not this host's to apply...
    h.update(&id, |i| {
        let patch = OptionsPatch {
            hop_limit: Some(model::HopLimit::new(4).unwrap()),
            ..Default::default()
        };
        i.modify_metadata(&patch, &Default::default()).unwrap();
    })
    .await;
    h.follow().await;
    h.at_as(model::time::now_ms() + DELAY_MS, &not_mine).await;
    assert_eq!(h.stored(&id).await.applied_generation, 2);
    // ...until the owner leaves: the host reloads (as `Host::run` does when its ownership
    // changes) and applies what the owner left pending.
    let alone = Ownership::Among {
        me,
        live: vec![live.into_iter().find(|h| *h != owner).unwrap()],
    };
    h.load().await;
    h.at_as(model::time::now_ms() + DELAY_MS, &alone).await;
    assert_eq!(h.stored(&id).await.applied_generation, 3);
    assert_eq!(h.table.served(&id).unwrap().generation, 3);
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

/// The feed is read with each instance as the store holds it now: when two modifications
/// of an instance are read together, both changes bring the second's options, which are due
/// from the second change, not from the first.
#[tokio::test]
async fn options_read_with_an_older_change_are_due_from_their_own() {
    let mut h = Harness::new("two-changes").await;
    let id = h.launch().await;
    h.load().await;
    h.require_tokens(&id).await;
    let first = model::time::now_ms();
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.update(&id, |i| {
        let patch = OptionsPatch {
            hop_limit: Some(model::HopLimit::new(3).unwrap()),
            ..Default::default()
        };
        i.modify_metadata(&patch, &Default::default()).unwrap();
    })
    .await;
    let second = h.stored(&id).await;
    assert_eq!(second.options_generation, 3);
    h.follow().await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Optional, 1));
    // The first change's delay has passed, the second's has not.
    h.at(first + DELAY_MS + 10).await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Optional, 1));
    assert_eq!(h.stored(&id).await.applied_generation, 1);
    h.at(model::time::now_ms() + DELAY_MS).await;
    assert_eq!(h.served_tokens(&id), (HttpTokens::Required, 3));
    assert_eq!(h.stored(&id).await.applied_generation, 3);
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
        .run_due(
            model::time::now_ms() + DELAY_MS,
            &h.table,
            &*h.store,
            &Ownership::Every,
        )
        .await;
    let switched = h.table.served(&id).unwrap();
    let mut changed = h.table.watch(&id);
    changed.mark_unchanged();
    h.follow().await;
    let echo = h.store.changes_after(seen, 10).await.unwrap();
    assert_eq!(
        echo.iter().map(|c| c.kind).collect::<Vec<_>>(),
        vec![ChangeKind::Applied]
    );
    assert_eq!(switched, h.table.served(&id).unwrap(), "the same version");
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
    assert_eq!(h.rendered(&first).await.view.tags.len(), 1);
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
    let before = table.served(&i.instance_id).unwrap();
    assert!(table.install(&i));
    let s = table.served(&i.instance_id).unwrap();
    assert_eq!(s.options.http_tokens, HttpTokens::Required);
    assert_eq!(s.generation, 2);
    assert!(
        s.version > before.version,
        "what it renders is rendered again"
    );
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
        crate::token::TokenKey::random(),
        crate::ownership::Ownership::Every,
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

/// The memory shape (issue 13): the table keeps a compact entry per instance and renders the
/// rest on demand into a bounded cache, so however many instances are served and called, at
/// most the cache's capacity of them are rendered at once.
#[tokio::test]
async fn renderings_are_bounded_whatever_the_fleet() {
    let mut h = Harness::with_cache("bounded", 8).await;
    let mut ids = Vec::new();
    for _ in 0..40 {
        ids.push(h.launch().await);
    }
    h.load().await;
    assert_eq!(h.table.len(), 40);
    assert_eq!(h.table.rendered_len(), 0, "loading renders nothing");
    for id in &ids {
        assert_eq!(&h.rendered(id).await.view.instance_id, id);
        assert!(h.table.rendered_len() <= 8);
    }
    assert_eq!(h.table.rendered_len(), 8);
}

/// A rendering kept for an instance is never served once the feed brought a newer record:
/// a changed tag (or profile, or state) is served fresh.
#[tokio::test]
async fn a_changed_tag_is_served_fresh_after_it_was_rendered() {
    let mut h = Harness::new("fresh").await;
    let id = h.launch().await;
    h.load().await;
    let first = h.rendered(&id).await;
    assert!(first.view.tags.is_empty());
    assert!(Arc::ptr_eq(&first, &h.rendered(&id).await), "kept");
    h.update(&id, |i| {
        i.tags.push(model::tags::Tag {
            key: "Name".into(),
            value: "web".into(),
        })
    })
    .await;
    h.follow().await;
    let tags = &h.rendered(&id).await.view.tags;
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].value, "web");
}

/// A rendering made from a record read before a newer one was installed is kept under the
/// version it was made for, so it is not served for the newer one.
#[tokio::test]
async fn a_rendering_of_an_older_version_is_not_served() {
    let mut h = Harness::new("older").await;
    let id = h.launch().await;
    h.load().await;
    let old = h.table.served(&id).unwrap();
    h.update(&id, |i| {
        i.tags.push(model::tags::Tag {
            key: "Name".into(),
            value: "web".into(),
        })
    })
    .await;
    h.follow().await;
    // The stale rendering arrives late, for the version it was read under.
    let stale = Arc::new(Rendered::new(crate::view::InstanceView::of(
        &model::testing::instance("m5.large"),
    )));
    h.table.keep_rendered(&old, stale.clone());
    assert!(!Arc::ptr_eq(&h.rendered(&id).await, &stale));
    assert_eq!(h.rendered(&id).await.view.tags.len(), 1);
}

/// Enforcement is decided from the served table alone: with the store closed (every read
/// fails), a switched-off endpoint is 403, a tokenless call where tokens are required is 401,
/// and a token is issued with its hop limit. A request for the instance's own data, whose
/// rendering is not kept, is then an internal error (500), never a wrong answer.
#[tokio::test]
async fn enforcement_reads_nothing_from_the_store() {
    use crate::server::{respond, Caller};
    use model::{HopLimit, HttpEndpoint};
    let h = Harness::new("enforce").await;
    let (required, disabled) = (h.launch().await, h.launch().await);
    h.update(&required, |i| {
        let patch = OptionsPatch {
            http_tokens: Some(HttpTokens::Required),
            hop_limit: Some(HopLimit::new(3).unwrap()),
            ..Default::default()
        };
        i.modify_metadata(&patch, &Default::default()).unwrap();
    })
    .await;
    h.update(&disabled, |i| {
        let patch = OptionsPatch {
            http_endpoint: Some(HttpEndpoint::Disabled),
            ..Default::default()
        };
        i.modify_metadata(&patch, &Default::default()).unwrap();
    })
    .await;
    let host = crate::Host::new(
        h.store.clone(),
        Duration::ZERO,
        Arc::new(crate::identity::IdentitySigner::load_or_create(None).unwrap()),
        Arc::new(iam::session::SessionKey::random()),
        crate::token::TokenKey::random(),
        crate::ownership::Ownership::Every,
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(host.clone().run(stopped));
    host.loaded().await;
    // Pending options found at start are switched after the delay (none here).
    for _ in 0..500 {
        let on = |id: &str| host.served(id).unwrap().generation == 2;
        if on(&required) && on(&disabled) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(host.served(&required).unwrap().options.hop_limit.get(), 3);
    stop.send(true).unwrap();
    running.await.unwrap();
    store::Store::close(&*h.store).await;
    assert!(h.store.instance_by_id(&required).await.is_err(), "closed");

    let peer: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let call = |id: &str, method: &str, path: &str, headers: &[(&str, &str)]| {
        let mut b = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        (Caller::Instance(id.to_string()), b.body(()).unwrap())
    };
    let (caller, req) = call(&disabled, "GET", "/latest/meta-data/instance-id", &[]);
    let r = respond(&host, &caller, peer, &req, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (caller, req) = call(&required, "GET", "/latest/meta-data/instance-id", &[]);
    let r = respond(&host, &caller, peer, &req, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let ttl = [("x-aws-ec2-metadata-token-ttl-seconds", "60")];
    let (caller, req) = call(&required, "PUT", "/latest/api/token", &ttl);
    let mut hops = None;
    let r = respond(&host, &caller, peer, &req, |n| {
        hops = Some(n);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!((r.status().as_u16(), hops), (200, Some(3)));
    let (caller, req) = call(&required, "PUT", "/latest/api/token", &[]);
    let r = respond(&host, &caller, peer, &req, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a token request without its TTL");
    // Allowed, but the instance's data cannot be read: an internal error.
    let (caller, req) = call(&required, "PUT", "/latest/api/token", &ttl);
    let token = respond(&host, &caller, peer, &req, |_| Ok(()))
        .await
        .unwrap();
    let token = {
        use http_body_util::BodyExt;
        let body = token.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    };
    let (caller, req) = call(
        &required,
        "GET",
        "/latest/meta-data/instance-id",
        &[("x-aws-ec2-metadata-token", &token)],
    );
    let r = respond(&host, &caller, peer, &req, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
}
