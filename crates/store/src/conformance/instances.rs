//! Instances: addresses, refused writes rolled back alone, filters and pages, client tokens,
//! profile associations.

use super::{launch, launch_at, launch_outcome, scope, Backend};
use crate as store;
use crate::{ChangeKind, InstanceQuery};
use model::filter::Filter;
use model::instance::Instance;
use model::{catalogue, Ec2Error, HttpTokens, Scope};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

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
                crate::ungated(),
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
            crate::ungated(),
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

/// Filters select in the store, and pages in launch order skip and repeat nothing.
pub async fn filters_and_pages<B: Backend>(b: &B) {
    let s = b.open().await;
    let all = launch(&*s, 12).await;
    for i in all.iter().take(4) {
        s.update_instances(
            &scope(),
            std::slice::from_ref(&i.instance_id),
            crate::ungated(),
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
        crate::ungated(),
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
        crate::ungated(),
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

/// The gate of a write to instances is asked inside the write, with the instances as the
/// write read them (earlier writes included), before unknown ids are reported; when it
/// refuses, nothing is changed, written or fed, and its error is the answer.
pub async fn the_gate_sees_what_the_write_read_and_its_refusal_writes_nothing<B: Backend>(b: &B) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    let s = b.open().await;
    let a = launch(&*s, 2).await;
    let ids = [a[0].instance_id.clone(), a[1].instance_id.clone()];
    s.update_instances(
        &scope(),
        &ids[..1],
        crate::ungated(),
        Box::new(|i, _| {
            i.metadata.http_tokens = HttpTokens::Required;
            Ok(())
        }),
    )
    .await
    .unwrap();
    let stored = s.instances(&scope(), &ids).await.unwrap();

    // The gate sees the instances found, as stored, before the unknown id is reported.
    let seen = Arc::new(Mutex::new(None));
    let saw = seen.clone();
    let err = s
        .update_instances(
            &scope(),
            &[ids[0].clone(), "i-0000000000000dead".into(), ids[1].clone()],
            Box::new(move |found| {
                *saw.lock().unwrap() = Some(found.to_vec());
                Ok(())
            }),
            Box::new(|_, _| Ok(())),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        store::StoreError::Refused(Ec2Error::InvalidInstanceIdNotFound(_))
    ));
    assert_eq!(seen.lock().unwrap().take(), Some(stored.clone()));

    // A refusal is the answer, before an unknown id, and nothing is written.
    let fed = *s.watch().borrow();
    for named in [
        vec![ids[0].clone(), "i-0000000000000dead".into()],
        ids.to_vec(),
    ] {
        let changed = Arc::new(AtomicBool::new(false));
        let change = changed.clone();
        let err = s
            .update_instances(
                &scope(),
                &named,
                Box::new(|_| Err(Ec2Error::UnauthorizedOperation("no".into()))),
                Box::new(move |i, _| {
                    change.store(true, Ordering::SeqCst);
                    i.metadata.http_tokens = HttpTokens::Optional;
                    Ok(())
                }),
            )
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            store::StoreError::Refused(Ec2Error::UnauthorizedOperation(_))
        ));
        assert!(!changed.load(Ordering::SeqCst), "no change is asked for");
    }
    assert_eq!(s.instances(&scope(), &ids).await.unwrap(), stored);
    assert!(s.changes_after(fed, 100).await.unwrap().is_empty());
    assert_eq!(*s.watch().borrow(), fed);
    s.close().await;
}

/// Issue 13 (paging invariants): walking the pages of DescribeInstances while instances are
/// launched, terminated and purged between pages skips and repeats nothing: every instance
/// there when the walk began is returned exactly once, and the instances launched during the
/// walk come after them, each at most once.
pub async fn pages_skip_and_repeat_nothing_while_the_fleet_changes<B: Backend>(b: &B) {
    let s = b.open().await;
    let before: Vec<String> = launch(&*s, 17)
        .await
        .into_iter()
        .map(|i| i.instance_id)
        .collect();
    let mut seen: Vec<String> = Vec::new();
    let mut launched: Vec<String> = Vec::new();
    let mut after = None;
    for round in 0.. {
        let page = s
            .describe_instances(
                &scope(),
                &InstanceQuery {
                    ids: None,
                    filters: Vec::new(),
                    after,
                    limit: Some(4),
                },
            )
            .await
            .unwrap();
        assert!(page.instances.len() <= 4, "a page holds at most its limit");
        seen.extend(page.instances.into_iter().map(|i| i.instance_id));
        let Some(next) = page.next else { break };
        after = Some(next);
        assert!(round < 20, "the walk ends");
        // Between pages: one instance already seen terminated and purged (it leaves the
        // walk behind the cursor: a page by position rather than by key would then skip
        // one), and one launched.
        if round < 3 {
            let gone = seen[round].clone();
            s.update_instances(
                &scope(),
                std::slice::from_ref(&gone),
                crate::ungated(),
                Box::new(|i, _| i.terminate(1, 0).map(|_| ())),
            )
            .await
            .unwrap();
            s.advance(2, 0).await.unwrap();
            s.advance(i64::MAX / 4, i64::MAX / 4).await.unwrap();
            assert!(
                s.instance_by_id(&gone).await.unwrap().is_none(),
                "purged between pages"
            );
            launched.extend(launch(&*s, 1).await.into_iter().map(|i| i.instance_id));
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "nothing repeated: {seen:?}");
    assert_eq!(
        &seen[..before.len()],
        &before[..],
        "every instance there at the start, once, in launch order"
    );
    for id in &seen[before.len()..] {
        assert!(
            launched.contains(id),
            "only instances launched during the walk follow"
        );
    }
    s.close().await;
}

/// What a metadata host loads of each instance (`served_instances`) is what the instance's
/// record says (`ServedRecord::of`), in launch order, a page at a time, with options applied
/// or pending and an association to settle.
pub async fn served_instances_are_what_the_records_say<B: Backend>(b: &B) {
    use crate::instances::ServedRecord;
    let s = b.open().await;
    let launched = launch(&*s, 5).await;
    let changed = [
        launched[1].instance_id.clone(),
        launched[3].instance_id.clone(),
    ];
    s.update_instances(
        &scope(),
        &changed,
        crate::ungated(),
        Box::new(|i, _| {
            let patch = model::OptionsPatch {
                http_tokens: Some(HttpTokens::Required),
                ..Default::default()
            };
            i.modify_metadata(&patch, &Default::default())?;
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
    s.mark_applied(&[(changed[0].clone(), 2)]).await.unwrap();
    let mut expected = Vec::new();
    let mut after = None;
    loop {
        let page = s.all_instances(after, 2).await.unwrap();
        expected.extend(page.instances.iter().map(ServedRecord::of));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut served = Vec::new();
    let mut after = None;
    loop {
        let page = s.served_instances(after, 2).await.unwrap();
        assert!(page.records.len() <= 2);
        served.extend(page.records);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(served, expected);
    assert_eq!(served.len(), 5);
    assert!(served.iter().any(|r| r.applied_metadata.is_some()));
    assert!(served.iter().any(|r| r.unsettled_association.is_some()));
    assert!(served
        .iter()
        .any(|r| r.applied_generation < r.options_generation));
}

/// Writes to instances queued together (a backend may run them as one group, as SQLite's
/// writer does in one commit): each sees what the ones before it wrote, two writes of the
/// same instance both land in order, and a refused one between accepted ones changes
/// nothing while the others are kept, each with its feed entries.
pub async fn writes_queued_together_see_each_other_and_refusals_stay_alone<B: Backend>(b: &B) {
    let s = b.open().await;
    let a = launch(&*s, 3).await;
    let ids: Vec<String> = a.iter().map(|i| i.instance_id.clone()).collect();
    let fed = *s.watch().borrow();
    // A first write holds the store (its gate waits) while the others are queued behind it.
    let held = hold_the_writer(s.clone(), ids[2].clone()).await;
    // Each write of instance 0 raises its hop limit by one from what it reads; the third,
    // refused after changing its copy, sits between the two accepted ones; instance 1 is
    // written by the refused one and by the last.
    let hop = |i: &Instance| i.metadata.hop_limit.get();
    let writes: Vec<(Vec<String>, bool)> = vec![
        (vec![ids[0].clone()], true),
        (vec![ids[0].clone(), ids[1].clone()], false),
        (vec![ids[0].clone()], true),
        (vec![ids[1].clone()], true),
    ];
    let mut queued = Vec::new();
    for (named, accept) in writes {
        let s = s.clone();
        queued.push(tokio::spawn(async move {
            s.update_instances(
                &scope(),
                &named,
                crate::ungated(),
                Box::new(move |i, _| {
                    i.metadata.hop_limit =
                        model::HopLimit::new(i64::from(i.metadata.hop_limit) + 1).unwrap();
                    i.options_generation += 1;
                    if accept {
                        Ok(())
                    } else {
                        Err(Ec2Error::DryRunOperation)
                    }
                }),
            )
            .await
        }));
        // Queued in this order.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    held.await.unwrap().unwrap();
    let mut answers = Vec::new();
    for q in queued {
        answers.push(q.await.unwrap());
    }
    let first = answers[0].as_ref().unwrap();
    assert_eq!(
        (hop(&first[0].0), hop(&first[0].1)),
        (hop(&a[0]), hop(&a[0]) + 1)
    );
    assert!(matches!(
        answers[1],
        Err(store::StoreError::Refused(Ec2Error::DryRunOperation))
    ));
    let third = answers[2].as_ref().unwrap();
    assert_eq!(
        (hop(&third[0].0), hop(&third[0].1)),
        (hop(&a[0]) + 1, hop(&a[0]) + 2),
        "the second write of instance 0 reads what the first wrote, not the refused one"
    );
    let fourth = answers[3].as_ref().unwrap();
    assert_eq!(
        (hop(&fourth[0].0), hop(&fourth[0].1)),
        (hop(&a[1]), hop(&a[1]) + 1),
        "the refused write changed nothing of instance 1"
    );
    let now = s.instances(&scope(), &ids[..2]).await.unwrap();
    assert_eq!(
        (hop(&now[0]), now[0].options_generation),
        (hop(&a[0]) + 2, a[0].options_generation + 2)
    );
    assert_eq!(
        (hop(&now[1]), now[1].options_generation),
        (hop(&a[1]) + 1, a[1].options_generation + 1)
    );
    // The feed: each accepted write's change, in order, with the generation it wrote.
    let changed: Vec<(String, u64)> = s
        .changes_after(fed, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == ChangeKind::OptionsChanged)
        .map(|c| (c.instance_id, c.generation))
        .collect();
    assert_eq!(
        changed,
        vec![
            (ids[0].clone(), a[0].options_generation + 1),
            (ids[0].clone(), a[0].options_generation + 2),
            (ids[1].clone(), a[1].options_generation + 1),
        ]
    );
    s.close().await;
}

/// A write of instance `id` whose gate holds the store's writer for 300 ms, started and
/// given 100 ms to begin, so that the writes made next queue behind it (one group commit).
/// Await it for its outcome.
pub async fn hold_the_writer(
    s: Arc<dyn store::Store>,
    id: String,
) -> tokio::task::JoinHandle<crate::Result<Vec<(Instance, Instance)>>> {
    let held = tokio::spawn(async move {
        s.update_instances(
            &scope(),
            &[id],
            Box::new(|_| {
                std::thread::sleep(Duration::from_millis(300));
                Ok(())
            }),
            Box::new(|_, _| Ok(())),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    held
}

/// The lifecycle's steps (taken on the rows' columns since issue 13, not on the documents)
/// leave each instance as the model's own `advance` leaves it: `pending` → `running` (its
/// state reason cleared), `stopping` → `stopped` (its reason kept), `shutting-down` →
/// `terminated` (its time set). The state filters find each in its new state and none in its
/// old one, each step is fed once with its kind, and instances not yet due are left alone.
pub async fn lifecycle_steps_leave_instances_as_the_model_advances_them<B: Backend>(b: &B) {
    let s = b.open().await;
    let all = launch(&*s, 10).await;
    let now = model::time::now_ms();
    let ids = |r: std::ops::Range<usize>| -> Vec<String> {
        all[r].iter().map(|i| i.instance_id.clone()).collect()
    };
    type Op = fn(&mut Instance, i64) -> Result<model::instance::StateChange, Ec2Error>;
    let apply = |ids: Vec<String>, op: Op, at: i64| {
        let s = s.clone();
        async move {
            s.update_instances(
                &scope(),
                &ids,
                crate::ungated(),
                Box::new(move |i, _| op(i, at).map(|_| ())),
            )
            .await
            .unwrap();
        }
    };
    // 0..2 stopped, then started: pending, due in a minute.
    apply(ids(0..2), |i, t| i.stop(t, 0, false), now).await;
    s.advance(now, 0).await.unwrap();
    apply(ids(0..2), |i, t| i.start(t, 60_000), now).await;
    // 2..4 stopping and 4..6 shutting down, due in a minute; 6..8 stopping, due in an hour.
    apply(ids(2..4), |i, t| i.stop(t, 60_000, false), now).await;
    apply(ids(4..6), |i, t| i.terminate(t, 60_000), now).await;
    apply(ids(6..8), |i, t| i.stop(t, 3_600_000, false), now).await;
    // 8..10 pending with the reason a launch gives (`model::launch::prototype`), due in a
    // minute.
    apply(
        ids(8..10),
        |i, t| {
            i.state = model::InstanceState::Pending;
            i.state_reason = Some(model::instance::StateReason::pending());
            i.transition = Some(model::instance::Transition {
                to: model::InstanceState::Running,
                due_ms: t + 60_000,
            });
            Ok(model::instance::StateChange {
                instance_id: i.instance_id.clone(),
                previous: model::InstanceState::Running,
                current: i.state,
            })
        },
        now,
    )
    .await;
    let mut before = Vec::new();
    for id in ids(0..10) {
        before.push(s.instance_by_id(&id).await.unwrap().unwrap());
    }
    let fed = s.changes_after(0, 1000).await.unwrap();
    let last = fed.last().map(|c| c.seq).unwrap_or(0);

    let then = now + 60_000;
    s.advance(then, 0).await.unwrap();
    let mut expected_feed = Vec::new();
    for b in &before {
        let mut expected = b.clone();
        let stepped = expected.advance(then);
        let after = s.instance_by_id(&b.instance_id).await.unwrap().unwrap();
        assert_eq!(after, expected, "{} from {:?}", b.instance_id, b.state);
        for kind in ChangeKind::between(Some(b), Some(&expected)) {
            expected_feed.push((b.instance_id.clone(), kind));
        }
        assert_eq!(stepped, b.transition.is_some_and(|t| t.due_ms <= then));
    }
    let states: Vec<model::InstanceState> = ids(0..10)
        .iter()
        .map(|id| before.iter().find(|b| &b.instance_id == id).unwrap().state)
        .collect();
    assert_eq!(
        &states,
        &[
            model::InstanceState::Pending,
            model::InstanceState::Pending,
            model::InstanceState::Stopping,
            model::InstanceState::Stopping,
            model::InstanceState::ShuttingDown,
            model::InstanceState::ShuttingDown,
            model::InstanceState::Stopping,
            model::InstanceState::Stopping,
            model::InstanceState::Pending,
            model::InstanceState::Pending,
        ]
    );
    let mut fed: Vec<(String, ChangeKind)> = s
        .changes_after(last, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.instance_id, c.kind))
        .collect();
    fed.sort_by(|a, b| a.0.cmp(&b.0));
    expected_feed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(fed.len(), 8, "eight steps: {fed:?}");
    assert_eq!(fed, expected_feed);

    let found = |name: &'static str, value: &'static str| {
        let s = s.clone();
        async move {
            let page = s
                .describe_instances(
                    &scope(),
                    &InstanceQuery {
                        ids: None,
                        filters: vec![Filter {
                            name: name.into(),
                            values: vec![value.into()],
                        }],
                        after: None,
                        limit: None,
                    },
                )
                .await
                .unwrap();
            let mut ids: Vec<String> = page.instances.into_iter().map(|i| i.instance_id).collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let running = sorted([ids(0..2), ids(8..10)].concat());
    assert_eq!(found("instance-state-name", "running").await, running);
    assert_eq!(found("instance-state-code", "16").await, running);
    assert_eq!(
        found("instance-state-name", "stopped").await,
        sorted(ids(2..4))
    );
    assert_eq!(found("instance-state-code", "48").await, sorted(ids(4..6)));
    assert_eq!(
        found("instance-state-name", "terminated").await,
        sorted(ids(4..6))
    );
    assert_eq!(
        found("instance-state-name", "stopping").await,
        sorted(ids(6..8))
    );
    for gone in ["pending", "shutting-down"] {
        assert!(
            found("instance-state-name", gone).await.is_empty(),
            "{gone}"
        );
    }
    assert!(found("instance-state-code", "0").await.is_empty());
    s.close().await;
}
