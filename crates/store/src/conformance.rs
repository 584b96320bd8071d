//! The store conformance suite: what every backend of [`Store`] must do, checked through the
//! trait alone. A backend's tests run each function on a fresh [`Backend`] (see
//! `tests/sqlite.rs`); a new backend (PostgreSQL) runs the same functions. The functions
//! panic on a failure, as tests do.

use crate as store;
use crate::{ChangeKind, InstanceQuery, LaunchRequest, Store};
use model::filter::Filter;
use model::instance::Instance;
use model::{catalogue, Ec2Error, HttpTokens, OptionsPatch, Scope};
use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// A place a backend keeps one store: `open` opens it (the first time empty; again after the
/// store was closed, with everything acknowledged before).
pub trait Backend: Sync {
    fn open(&self) -> impl Future<Output = Arc<dyn Store>>;
}

fn scope() -> Scope {
    Scope::new("123456789012", "us-west-2")
}

fn proto(n: u32, ip: Ipv4Addr, subnet: &str) -> Instance {
    let mut i = model::testing::instance("m5.large");
    i.instance_id = format!("i-{:017x}", 0x1000 + n as u64);
    i.scope = scope();
    i.private_ip = ip;
    i.subnet_id = subnet.into();
    i.availability_zone = "us-west-2a".into();
    i.ami_launch_index = n;
    i
}

/// Launch `count` instances into the first default subnet of us-west-2.
pub async fn launch(s: &dyn Store, count: u32) -> Vec<Instance> {
    launch_outcome(s, count, None).await.instances
}

/// The same, with a client token (each instance carries it, as RunInstances writes it).
async fn launch_outcome(s: &dyn Store, count: u32, token: Option<&str>) -> store::LaunchOutcome {
    let subnet = catalogue::default_vpc("us-west-2").subnets[0]
        .subnet_id
        .clone();
    let sub = subnet.clone();
    let token = token.map(str::to_string);
    let client_token = token.clone();
    s.launch(
        &scope(),
        LaunchRequest {
            count,
            client_token,
            subnet_id: subnet,
            private_ip: None,
        },
        Box::new(move |lc| {
            Ok(lc
                .addresses
                .iter()
                .enumerate()
                .map(|(n, ip)| {
                    let mut i = proto(n as u32 + rand_id(), *ip, &sub);
                    i.client_token = token.clone();
                    i
                })
                .collect())
        }),
    )
    .await
    .unwrap()
}

fn rand_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1000, Ordering::SeqCst)
}

/// Each launched instance has its own address; concurrent writes refused by the model are
/// rolled back alone; a write naming an unknown instance fails whole and changes nothing.
pub async fn addresses_are_unique_and_refusals_change_nothing<B: Backend>(b: &B) {
    let s = b.open().await;
    let a = launch(&*s, 5).await;
    let b = launch(&*s, 5).await;
    let mut ips: Vec<_> = a.iter().chain(&b).map(|i| i.private_ip).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 10, "every instance has its own address");
    assert_eq!(
        a[0].private_ip,
        Ipv4Addr::new(172, 31, 0, 4),
        "the first usable address"
    );

    // Concurrent writes: the refused ones (odd) are rolled back alone, in the same batches.
    let mut handles = Vec::new();
    for n in 0..40u32 {
        let s = s.clone();
        let id = a[(n % 5) as usize].instance_id.clone();
        handles.push(tokio::spawn(async move {
            s.update_instances(
                &scope(),
                &[id],
                Box::new(move |i, _| {
                    i.metadata.hop_limit = model::HopLimit::new(2).unwrap();
                    i.options_generation += 1;
                    if n % 2 == 1 {
                        Err(Ec2Error::DryRunOperation)
                    } else {
                        Ok(())
                    }
                }),
            )
            .await
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => ok += 1,
            Err(store::StoreError::Refused(Ec2Error::DryRunOperation)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 20);
    let now = s
        .instances(&scope(), &[a[0].instance_id.clone()])
        .await
        .unwrap();
    assert_eq!(
        now[0].options_generation,
        1 + 4,
        "8 writes to instance 0, half refused"
    );

    // Unknown ids fail the whole call.
    let err = s
        .update_instances(
            &scope(),
            &[a[1].instance_id.clone(), "i-0000000000000dead".into()],
            Box::new(|i, _| {
                i.metadata.http_tokens = HttpTokens::Required;
                Ok(())
            }),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, store::StoreError::Refused(Ec2Error::InvalidInstanceIdNotFound(ref ids)) if ids == &["i-0000000000000dead"])
    );
    let unchanged = s
        .instances(&scope(), &[a[1].instance_id.clone()])
        .await
        .unwrap();
    assert_eq!(unchanged[0].metadata.http_tokens, HttpTokens::Optional);
    s.close().await;
}

/// What was acknowledged is there after a reopen; the feed is ordered and `watch` follows it;
/// `mark_applied` takes a generation once.
pub async fn acknowledged_writes_survive_reopen_and_feed_is_ordered<B: Backend>(b: &B) {
    let id;
    {
        let s = b.open().await;
        let a = launch(&*s, 1).await;
        id = a[0].instance_id.clone();
        let mut inst = a[0].clone();
        let patch = OptionsPatch {
            http_tokens: Some(HttpTokens::Required),
            ..Default::default()
        };
        s.update_instances(
            &scope(),
            std::slice::from_ref(&id),
            Box::new(move |i, mc| i.modify_metadata(&patch, &mc.defaults)),
        )
        .await
        .unwrap();
        inst.modify_metadata(
            &OptionsPatch {
                http_tokens: Some(HttpTokens::Required),
                ..Default::default()
            },
            &Default::default(),
        )
        .unwrap();
        let feed = s.changes_after(0, 100).await.unwrap();
        let kinds: Vec<ChangeKind> = feed.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            vec![ChangeKind::Launched, ChangeKind::OptionsChanged]
        );
        assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(*s.watch().borrow(), feed[1].seq);
        assert_eq!(s.pending_applies().await.unwrap(), vec![(id.clone(), 2)]);
        s.close().await;
    }
    let s = b.open().await;
    let back = s
        .instances(&scope(), std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(back[0].metadata.http_tokens, HttpTokens::Required);
    assert_eq!(back[0].options_state(), model::OptionsState::Pending);
    assert_eq!(s.mark_applied(&[(id.clone(), 2)]).await.unwrap(), 1);
    assert_eq!(
        s.mark_applied(&[(id.clone(), 2)]).await.unwrap(),
        0,
        "idempotent"
    );
    let back = s.instances(&scope(), &[id]).await.unwrap();
    assert_eq!(back[0].options_state(), model::OptionsState::Applied);
    s.close().await;
}

/// Filters select in the store, and pages in launch order skip and repeat nothing.
pub async fn filters_and_pages<B: Backend>(b: &B) {
    let s = b.open().await;
    let all = launch(&*s, 12).await;
    for i in all.iter().take(4) {
        s.update_instances(
            &scope(),
            std::slice::from_ref(&i.instance_id),
            Box::new(|i, _| {
                i.metadata.http_tokens = HttpTokens::Required;
                i.tags.push(model::tags::Tag {
                    key: "Name".into(),
                    value: "web-1".into(),
                });
                Ok(())
            }),
        )
        .await
        .unwrap();
    }
    let f = |n: &str, v: &[&str]| Filter {
        name: n.into(),
        values: v.iter().map(|s| s.to_string()).collect(),
    };
    let q = |filters: Vec<Filter>, after, limit| InstanceQuery {
        ids: None,
        filters,
        after,
        limit,
    };
    let page = s
        .describe_instances(
            &scope(),
            &q(
                vec![f("metadata-options.http-tokens", &["required"])],
                None,
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(page.instances.len(), 4);
    let page = s
        .describe_instances(
            &scope(),
            &q(
                vec![
                    f("tag:Name", &["web-?"]),
                    f("instance-state-name", &["running", "stopped"]),
                ],
                None,
                None,
            ),
        )
        .await
        .unwrap();
    assert_eq!(page.instances.len(), 4);
    let page = s
        .describe_instances(&scope(), &q(vec![f("tag:Name", &["web\\*"])], None, None))
        .await
        .unwrap();
    assert_eq!(page.instances.len(), 0, "escaped wildcard is literal");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .describe_instances(&scope(), &q(vec![], after, Some(5)))
            .await
            .unwrap();
        seen.extend(page.instances.iter().map(|i| i.instance_id.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    let other = Scope::new("999999999999", "us-west-2");
    let page = s
        .describe_instances(&other, &q(vec![], None, None))
        .await
        .unwrap();
    assert!(page.instances.is_empty(), "other accounts see nothing");
    s.close().await;
}

/// A launch repeated with its client token gets the first launch's instances back.
pub async fn client_token_replays_the_launch<B: Backend>(b: &B) {
    let s = b.open().await;
    let first = launch_outcome(&*s, 2, Some("tok")).await;
    let again = launch_outcome(&*s, 2, Some("tok")).await;
    assert!(!first.replayed && again.replayed);
    let ids = |v: &[Instance]| v.iter().map(|i| i.instance_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&first.instances), ids(&again.instances));
    s.close().await;
}

/// An association change is a `profile-changed` feed entry; the instance is found by its
/// association id (the indexed attribute Replace and Disassociate use); settling survives a
/// reopen, and settling again (or an id that is not the instance's) changes nothing.
pub async fn profile_associations_feed_lookup_and_settle<B: Backend>(b: &B) {
    use model::instance::{IamProfileRef, ASSOCIATION_ATTRIBUTE};
    use model::profile_association::AssociationState;
    let s = b.open().await;
    let a = launch(&*s, 2).await;
    let id = a[0].instance_id.clone();
    let profile = IamProfileRef {
        arn: "arn:aws:iam::123456789012:instance-profile/web".into(),
        id: "AIPAEXAMPLE0000000001".into(),
        role: Some("web".into()),
    };
    let before = s.watch().borrow().to_owned();
    s.update_instances(
        &scope(),
        std::slice::from_ref(&id),
        Box::new(move |i, _| {
            i.associate_profile(profile.clone(), "iip-assoc-0123456789abcdef0".into(), 7)
                .map(|_| ())
        }),
    )
    .await
    .unwrap();
    let changes = s.changes_after(before, 100).await.unwrap();
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.instance_id.as_str(), c.kind))
            .collect::<Vec<_>>(),
        vec![(id.as_str(), ChangeKind::ProfileChanged)]
    );
    let found = s
        .describe_instances(
            &scope(),
            &InstanceQuery {
                filters: vec![Filter {
                    name: ASSOCIATION_ATTRIBUTE.into(),
                    values: vec!["iip-assoc-0123456789abcdef0".into()],
                }],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        found
            .instances
            .iter()
            .map(|i| &i.instance_id)
            .collect::<Vec<_>>(),
        vec![&id]
    );
    s.close().await;

    let s = b.open().await;
    let settled = s
        .settle_associations(&[
            (id.clone(), "iip-assoc-0123456789abcdef0".into()),
            (
                a[1].instance_id.clone(),
                "iip-assoc-0123456789abcdef0".into(),
            ),
        ])
        .await
        .unwrap();
    assert_eq!(
        settled.len(),
        1,
        "only the instance holding the association"
    );
    assert_eq!(
        settled[0].profile_association.as_ref().map(|x| x.state),
        Some(AssociationState::Associated)
    );
    assert!(s
        .settle_associations(&[(id.clone(), "iip-assoc-0123456789abcdef0".into())])
        .await
        .unwrap()
        .is_empty());
    let now = s
        .instances(&scope(), std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(
        now[0].served_profile().map(|p| p.arn.as_str()),
        Some("arn:aws:iam::123456789012:instance-profile/web")
    );
    s.close().await;
}

/// Each change carries the instance as its write left it, so a follower needs no read; once
/// the feed is trimmed, its oldest change says what a follower may have missed.
pub async fn changes_carry_the_instance_and_the_feed_says_where_it_starts<B: Backend>(b: &B) {
    let s = b.open().await;
    assert_eq!(s.oldest_change().await.unwrap(), None);
    let launched = launch(&*s, 1).await.remove(0);
    let id = launched.instance_id.clone();
    let changed = s
        .update_instances(
            &scope(),
            std::slice::from_ref(&id),
            Box::new(|i, mc| {
                i.modify_metadata(
                    &OptionsPatch {
                        http_tokens: Some(HttpTokens::Required),
                        ..Default::default()
                    },
                    &mc.defaults,
                )
            }),
        )
        .await
        .unwrap()
        .remove(0)
        .1;
    let feed = s.changes_after(0, 100).await.unwrap();
    assert_eq!(feed[0].instance.as_ref(), Some(&launched));
    assert_eq!(feed[1].instance.as_ref(), Some(&changed));
    assert_eq!(s.oldest_change().await.unwrap(), Some(feed[0].seq));
    // The lifecycle trims changes older than an hour, keeping the latest.
    let later = model::time::now_ms() + 2 * 3_600_000;
    s.advance(later, 0).await.unwrap();
    assert_eq!(s.oldest_change().await.unwrap(), Some(feed[1].seq));
    s.close().await;
}

/// A launch with an explicit address (or none) into the first default subnet of us-west-2.
async fn launch_at(s: &dyn Store, subnet: &str, ip: Option<Ipv4Addr>) -> store::Result<Instance> {
    let sub = subnet.to_string();
    s.launch(
        &scope(),
        LaunchRequest {
            count: 1,
            client_token: None,
            subnet_id: subnet.into(),
            private_ip: ip,
        },
        Box::new(move |lc| Ok(vec![proto(rand_id(), lc.addresses[0], &sub)])),
    )
    .await
    .map(|mut o| o.instances.remove(0))
}

/// Launches take the lowest free addresses of their subnet (never a reserved one); an
/// address asked for must be free; termination releases an address, which the next launch
/// takes; the subnet must be one the scope can see.
pub async fn addresses_are_allocated_lowest_first_and_released_at_termination<B: Backend>(b: &B) {
    let s = b.open().await;
    let subnet = catalogue::default_vpc("us-west-2").subnets[0]
        .subnet_id
        .clone();
    let ip = |n: u8| Ipv4Addr::new(172, 31, 0, n);
    let a = launch(&*s, 3).await;
    let ips: Vec<_> = a.iter().map(|i| i.private_ip).collect();
    assert_eq!(ips, vec![ip(4), ip(5), ip(6)]);
    let err = launch_at(&*s, &subnet, Some(ip(5))).await.unwrap_err();
    assert!(
        matches!(err, store::StoreError::Refused(Ec2Error::InvalidIpAddressInUse(ref a)) if a == "172.31.0.5"),
        "{err}"
    );
    let err = launch_at(&*s, &subnet, Some(ip(3))).await.unwrap_err();
    assert!(
        matches!(
            err,
            store::StoreError::Refused(Ec2Error::InvalidParameterValueAddress { .. })
        ),
        "{err}"
    );
    assert_eq!(
        launch_at(&*s, &subnet, Some(ip(9)))
            .await
            .unwrap()
            .private_ip,
        ip(9)
    );

    let now = model::time::now_ms();
    s.update_instances(
        &scope(),
        std::slice::from_ref(&a[1].instance_id),
        Box::new(move |i, _| i.terminate(now, 0).map(|_| ())),
    )
    .await
    .unwrap();
    assert_eq!(
        launch_at(&*s, &subnet, None).await.unwrap().private_ip,
        ip(7),
        "shutting down still holds its address"
    );
    s.advance(now, 0).await.unwrap();
    assert_eq!(
        s.subnet_usage(std::slice::from_ref(&subnet)).await.unwrap()[&subnet],
        4,
        "five launched, one terminated"
    );
    assert_eq!(
        launch_at(&*s, &subnet, None).await.unwrap().private_ip,
        ip(5),
        "a terminated instance's address is free again"
    );
    let err = launch_at(&*s, "subnet-0000000000000dead", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            store::StoreError::Refused(Ec2Error::InvalidSubnetIdNotFound(_))
        ),
        "{err}"
    );
    s.close().await;
}

/// The lifecycle trims the feed of changes older than an hour, but always keeps the latest:
/// numbering goes on after it, and a follower at the latest change has missed nothing.
pub async fn the_feed_keeps_an_hour_and_always_the_latest<B: Backend>(b: &B) {
    let s = b.open().await;
    let a = launch(&*s, 3).await;
    let feed = s.changes_after(0, 100).await.unwrap();
    assert_eq!(feed.len(), 3);
    let now = model::time::now_ms();
    s.advance(now, 0).await.unwrap();
    assert_eq!(
        s.changes_after(0, 100).await.unwrap(),
        feed,
        "nothing is an hour old yet"
    );
    s.advance(now + 3_600_000 + 60_000, 0).await.unwrap();
    let left = s.changes_after(0, 100).await.unwrap();
    assert_eq!(left, feed[2..].to_vec(), "only the latest stays");
    assert_eq!(s.oldest_change().await.unwrap(), Some(feed[2].seq));
    s.update_instances(
        &scope(),
        std::slice::from_ref(&a[0].instance_id),
        Box::new(|i, _| {
            i.tags.push(model::tags::Tag {
                key: "k".into(),
                value: "v".into(),
            });
            Ok(())
        }),
    )
    .await
    .unwrap();
    let next = s.changes_after(feed[2].seq, 100).await.unwrap();
    assert_eq!(next.len(), 1);
    assert!(next[0].seq > feed[2].seq, "numbering goes on");
    assert_eq!(*s.watch().borrow(), next[0].seq);
    s.close().await;
}

fn tag(key: &str, value: &str) -> model::tags::Tag {
    model::tags::Tag {
        key: key.into(),
        value: value.into(),
    }
}

/// The resources DescribeTags lists in the scope, as (id, type, key, value).
async fn listed_tags(s: &dyn Store) -> Vec<(String, String, String, String)> {
    let page = s
        .describe_tags(&scope(), &store::TagQuery::default())
        .await
        .unwrap();
    page.tags
        .into_iter()
        .map(|t| (t.resource_id, t.resource_type, t.key, t.value))
        .collect()
}

fn refused(r: store::Result<impl std::fmt::Debug>) -> Ec2Error {
    match r {
        Err(store::StoreError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// VPCs and subnets an account creates: listed in creation order beside the catalogue's
/// default ones, a subnet checked against its VPC's others (default subnets included),
/// retagged, deleted once the model allows it (with their tags); unknown ids are the
/// resource's `NotFound`; another scope sees none of them.
pub async fn vpcs_and_subnets_are_kept_per_scope<B: Backend>(b: &B) {
    use model::vpc::{Subnet, Vpc};
    let s = b.open().await;
    let default = catalogue::default_vpc("us-west-2");
    let vpc = Vpc {
        vpc_id: "vpc-0000000000000aaaa".into(),
        cidr: model::cidr::Cidr::parse("10.1.0.0/16").unwrap(),
        is_default: false,
        instance_tenancy: "default".into(),
        tags: vec![tag("Name", "main")],
    };
    s.create_vpc(&scope(), vpc.clone()).await.unwrap();
    assert_eq!(s.vpcs(&scope()).await.unwrap(), vec![vpc.clone()]);
    let other = Scope::new("999999999999", "us-west-2");
    assert!(s.vpcs(&other).await.unwrap().is_empty());

    let subnet_of = |vpc_id: &str, id: &str, block: &str| Subnet {
        subnet_id: id.into(),
        vpc_id: vpc_id.into(),
        availability_zone: "us-west-2a".into(),
        availability_zone_id: "usw2-az1".into(),
        cidr: model::cidr::Cidr::parse(block).unwrap(),
        default_for_az: false,
        tags: vec![],
    };
    let made = subnet_of(&vpc.vpc_id, "subnet-0000000000000aaaa", "10.1.1.0/24");
    let (expected_vpc, m) = (vpc.clone(), made.clone());
    let created = s
        .create_subnet(
            &scope(),
            &vpc.vpc_id,
            Box::new(move |v, siblings| {
                assert_eq!(v, &expected_vpc);
                assert!(siblings.is_empty());
                Ok(m)
            }),
        )
        .await
        .unwrap();
    assert_eq!(created, made);
    // In the default VPC, the default subnets are the siblings the model checks against.
    let (expected, in_default) = (
        default.subnets.clone(),
        subnet_of(
            &default.vpc.vpc_id,
            "subnet-0000000000000bbbb",
            "172.31.128.0/24",
        ),
    );
    let d = in_default.clone();
    s.create_subnet(
        &scope(),
        &default.vpc.vpc_id,
        Box::new(move |_, siblings| {
            assert_eq!(siblings, expected.as_slice());
            Ok(d)
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        s.subnets(&scope()).await.unwrap(),
        vec![made.clone(), in_default.clone()],
        "in creation order"
    );
    assert!(matches!(
        refused(
            s.create_subnet(
                &scope(),
                "vpc-0000000000000dead",
                Box::new(|_, _| panic!("not called"))
            )
            .await
        ),
        Ec2Error::InvalidVpcIdNotFound(_)
    ));

    for id in [&vpc.vpc_id, &made.subnet_id] {
        s.update_network_tags(
            &scope(),
            id,
            Box::new(|tags| {
                tags.retain(|t| t.key != "Name");
                tags.push(tag("env", "prod"));
                Ok(())
            }),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        s.vpcs(&scope()).await.unwrap()[0].tags,
        vec![tag("env", "prod")]
    );
    assert_eq!(
        s.subnets(&scope()).await.unwrap()[0].tags,
        vec![tag("env", "prod")]
    );
    let mut tags = listed_tags(&*s).await;
    tags.sort();
    assert_eq!(
        tags,
        vec![
            (
                made.subnet_id.clone(),
                "subnet".into(),
                "env".into(),
                "prod".into()
            ),
            (
                vpc.vpc_id.clone(),
                "vpc".into(),
                "env".into(),
                "prod".into()
            ),
        ]
    );
    assert!(matches!(
        refused(
            s.update_network_tags(&other, &vpc.vpc_id, Box::new(|_| Ok(())))
                .await
        ),
        Ec2Error::InvalidVpcIdNotFound(_)
    ));
    assert!(matches!(
        refused(
            s.update_network_tags(&scope(), "subnet-0000000000000dead", Box::new(|_| Ok(())))
                .await
        ),
        Ec2Error::InvalidSubnetIdNotFound(_)
    ));

    let subnets = |n: usize| {
        Box::new(move |_: &Vpc, count: usize| {
            assert_eq!(count, n);
            model::vpc::check_vpc_deletable(&vpc_stub(), count)
        }) as store::VpcDeletion
    };
    fn vpc_stub() -> Vpc {
        Vpc {
            vpc_id: "vpc-0000000000000aaaa".into(),
            cidr: model::cidr::Cidr::parse("10.1.0.0/16").unwrap(),
            is_default: false,
            instance_tenancy: "default".into(),
            tags: vec![],
        }
    }
    assert!(matches!(
        refused(s.delete_vpc(&scope(), &vpc.vpc_id, subnets(1)).await),
        Ec2Error::DependencyViolation(_)
    ));
    let gone = s
        .delete_subnet(
            &scope(),
            &made.subnet_id,
            Box::new(|_, held| {
                assert_eq!(held, 0);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(gone.subnet_id, made.subnet_id);
    s.delete_vpc(&scope(), &vpc.vpc_id, subnets(0))
        .await
        .unwrap();
    assert!(s.vpcs(&scope()).await.unwrap().is_empty());
    assert_eq!(s.subnets(&scope()).await.unwrap(), vec![in_default]);
    assert!(
        listed_tags(&*s).await.is_empty(),
        "their tags went with them"
    );
    assert!(matches!(
        refused(s.delete_vpc(&scope(), &vpc.vpc_id, subnets(0)).await),
        Ec2Error::InvalidVpcIdNotFound(_)
    ));
    assert!(matches!(
        refused(
            s.delete_subnet(&scope(), &made.subnet_id, Box::new(|_, _| Ok(())))
                .await
        ),
        Ec2Error::InvalidSubnetIdNotFound(_)
    ));
    s.close().await;
}

/// Launch templates: a name is the scope's once; a change may add a version; deletion takes
/// the versions and tags with it. Images: registered, changed, their tags listed.
pub async fn templates_and_images_are_kept_per_scope<B: Backend>(b: &B) {
    use model::image::Image;
    use model::launch_template::{LaunchTemplate, LaunchTemplateVersion};
    let s = b.open().await;
    let t = LaunchTemplate {
        launch_template_id: "lt-0000000000000aaaa".into(),
        name: "web".into(),
        scope: scope(),
        create_time_ms: 1,
        created_by: "arn:aws:iam::123456789012:root".into(),
        default_version: 1,
        latest_version: 1,
        tags: vec![tag("team", "a")],
    };
    let version = |n: u64| LaunchTemplateVersion {
        launch_template_id: t.launch_template_id.clone(),
        version: n,
        description: None,
        create_time_ms: 1,
        created_by: t.created_by.clone(),
        data_json: "{}".into(),
        metadata: Default::default(),
    };
    s.create_template(&scope(), t.clone(), version(1))
        .await
        .unwrap();
    let twin = LaunchTemplate {
        launch_template_id: "lt-0000000000000bbbb".into(),
        ..t.clone()
    };
    assert_eq!(
        refused(s.create_template(&scope(), twin, version(1)).await),
        Ec2Error::InvalidLaunchTemplateNameAlreadyExists
    );
    let v2 = version(2);
    let (changed, added) = s
        .update_template(
            &scope(),
            &t.launch_template_id,
            Box::new(move |t| {
                t.latest_version = 2;
                t.tags = vec![tag("team", "b")];
                Ok(Some(v2))
            }),
        )
        .await
        .unwrap();
    assert_eq!(added, Some(version(2)));
    assert_eq!(s.templates(&scope()).await.unwrap(), vec![changed.clone()]);
    assert_eq!(
        s.template_versions(&scope(), &t.launch_template_id)
            .await
            .unwrap(),
        vec![version(1), version(2)]
    );

    let image = Image {
        image_id: "ami-0000000000000aaaa".into(),
        owner_id: "123456789012".into(),
        owner_alias: None,
        name: "golden".into(),
        description: None,
        architecture: "x86_64".into(),
        platform_details: "Linux/UNIX".into(),
        root_device_name: "/dev/xvda".into(),
        virtualization_type: "hvm".into(),
        ena_support: true,
        public: false,
        imds_support: None,
        creation_date: "2026-01-01T00:00:00.000Z".into(),
        tags: vec![tag("os", "linux")],
    };
    s.put_image(&scope(), image.clone()).await.unwrap();
    let changed_image = s
        .update_image(
            &scope(),
            &image.image_id,
            Box::new(|i| {
                i.imds_support = Some(model::image::ImdsSupport::V2_0);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(s.images(&scope()).await.unwrap(), vec![changed_image]);
    let mut tags = listed_tags(&*s).await;
    tags.sort();
    assert_eq!(
        tags,
        vec![
            (
                image.image_id.clone(),
                "image".into(),
                "os".into(),
                "linux".into()
            ),
            (
                t.launch_template_id.clone(),
                "launch-template".into(),
                "team".into(),
                "b".into()
            ),
        ]
    );
    assert!(matches!(
        refused(
            s.update_image(&scope(), "ami-0000000000000dead", Box::new(|_| Ok(())))
                .await
        ),
        Ec2Error::InvalidAmiIdNotFound(_)
    ));

    assert_eq!(
        s.delete_template(&scope(), &t.launch_template_id)
            .await
            .unwrap(),
        changed
    );
    assert!(s.templates(&scope()).await.unwrap().is_empty());
    assert!(matches!(
        refused(s.template_versions(&scope(), &t.launch_template_id).await),
        Ec2Error::InvalidLaunchTemplateIdNotFound(_)
    ));
    assert_eq!(listed_tags(&*s).await.len(), 1, "the image's tag stays");
    assert!(matches!(
        refused(s.delete_template(&scope(), &t.launch_template_id).await),
        Ec2Error::InvalidLaunchTemplateIdNotFound(_)
    ));
    s.close().await;
}
