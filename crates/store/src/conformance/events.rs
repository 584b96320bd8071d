//! Instance events (`model::events`): the store keeps when each instance's next event step
//! is due, finds the due ones, and writes each step as the model's writes are (feed entries,
//! filters, the lifecycle's transitions it starts).

use super::{proto, rand_id, scope, Backend};
use crate::{ChangeKind, InstanceQuery, LaunchRequest, Store};
use model::events::{EventCode, EventSchedule, EventState, Interruption, InterruptionBehavior};
use model::filter::Filter;
use model::instance::Instance;
use model::{catalogue, InstanceState};

/// Launch one instance into the first default subnet of us-west-2, as `shape` makes it.
async fn launch_one(s: &dyn Store, shape: fn(&mut Instance)) -> Instance {
    let subnet = catalogue::default_vpc("us-west-2").subnets[0]
        .subnet_id
        .clone();
    let sub = subnet.clone();
    let mut out = s
        .launch(
            &scope(),
            LaunchRequest {
                count: 1,
                client_token: None,
                subnet_id: subnet,
                private_ip: None,
            },
            Box::new(move |lc| {
                let mut i = proto(rand_id(), lc.addresses[0], &sub);
                shape(&mut i);
                Ok(vec![i])
            }),
        )
        .await
        .unwrap();
    out.instances.remove(0)
}

fn spot(i: &mut Instance) {
    i.market = Some(model::testing::spot_market(InterruptionBehavior::Terminate));
}

async fn now_of(s: &dyn Store, i: &Instance) -> Instance {
    s.instance_by_id(&i.instance_id).await.unwrap().unwrap()
}

/// The kinds of the feed's changes of `id` after `after`.
async fn fed(s: &dyn Store, after: u64, id: &str) -> Vec<ChangeKind> {
    s.changes_after(after, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.instance_id == id)
        .map(|c| c.kind)
        .collect()
}

/// The ids DescribeInstances lists in the scope with `instance-state-name` `state`.
async fn in_state(s: &dyn Store, state: &str) -> Vec<String> {
    let q = InstanceQuery {
        filters: vec![Filter {
            name: "instance-state-name".into(),
            values: vec![state.into()],
        }],
        ..Default::default()
    };
    let page = s.describe_instances(&scope(), &q).await.unwrap();
    page.instances.into_iter().map(|i| i.instance_id).collect()
}

/// A Spot interruption takes its steps when due (recommendation, notice, action) and a
/// maintenance event scheduled at launch takes effect; each step is a write with its feed
/// entries, the action starts the lifecycle's transition, and an instance without events
/// is never read as due nor written.
pub async fn instance_events_take_their_steps_when_due<B: Backend>(b: &B) {
    let s = b.open().await;
    let plain = launch_one(&*s, |_| {}).await;
    let spotted = launch_one(&*s, spot).await;
    assert_eq!(s.next_event_due().await.unwrap(), None, "no events yet");
    let t0 = model::time::now_ms();
    let start = s.changes_after(0, 10_000).await.unwrap();
    let start = start.last().map_or(0, |c| c.seq);

    // Scheduled by a write: its column is set with it, and kept across a reopen.
    s.update_instances(
        &scope(),
        std::slice::from_ref(&spotted.instance_id),
        crate::ungated(),
        Box::new(move |i, _| {
            i.schedule_interruption(Interruption::planned("EXP1", t0, 240_000, 120_000))
        }),
    )
    .await
    .unwrap();
    assert_eq!(s.next_event_due().await.unwrap(), Some(t0));
    // The driver's one read says what the two say.
    assert_eq!(
        s.next_steps(3_600_000).await.unwrap(),
        crate::NextSteps {
            lifecycle: s.next_due(3_600_000).await.unwrap(),
            events: Some(t0),
        }
    );
    s.close().await;
    let s = b.open().await;
    assert_eq!(
        s.next_event_due().await.unwrap(),
        Some(t0),
        "after a reopen"
    );
    assert_eq!(
        s.take_due_events(t0 - 1, 10).await.unwrap(),
        Some(t0),
        "nothing due yet"
    );

    // The recommendation.
    assert_eq!(s.take_due_events(t0, 10).await.unwrap(), Some(t0 + 120_000));
    let i = now_of(&*s, &spotted).await;
    assert_eq!(i.events.rebalance_ms, Some(t0));
    assert_eq!(i.events.notice, None);
    assert_eq!(i.state, InstanceState::Running);
    assert!(
        fed(&*s, start, &spotted.instance_id)
            .await
            .contains(&ChangeKind::EventsChanged),
        "the step is in the feed"
    );

    // The notice.
    assert_eq!(
        s.take_due_events(t0 + 120_000, 10).await.unwrap(),
        Some(t0 + 240_000)
    );
    let i = now_of(&*s, &spotted).await;
    assert_eq!(i.events.notice.map(|n| n.time_ms), Some(t0 + 240_000));

    // The action: shutting down, its transition due, nothing more to take.
    let before_action = s.changes_after(0, 10_000).await.unwrap();
    let before_action = before_action.last().map_or(0, |c| c.seq);
    assert_eq!(s.take_due_events(t0 + 240_000, 10).await.unwrap(), None);
    assert_eq!(s.next_event_due().await.unwrap(), None);
    let i = now_of(&*s, &spotted).await;
    assert_eq!(i.state, InstanceState::ShuttingDown);
    assert_eq!(
        i.transition.map(|t| (t.to, t.due_ms)),
        Some((InstanceState::Terminated, t0 + 240_010))
    );
    assert_eq!(
        s.next_due(3_600_000).await.unwrap(),
        Some(t0 + 240_010),
        "the lifecycle's next step is the transition the action started"
    );
    assert_eq!(
        s.next_steps(3_600_000).await.unwrap(),
        crate::NextSteps {
            lifecycle: Some(t0 + 240_010),
            events: None,
        }
    );
    assert_eq!(
        in_state(&*s, "shutting-down").await,
        [i.instance_id.as_str()]
    );
    let kinds = fed(&*s, before_action, &spotted.instance_id).await;
    assert!(
        kinds.contains(&ChangeKind::EventsChanged) && kinds.len() >= 2,
        "the action's entries: {kinds:?}"
    );
    s.advance(t0 + 240_010, 0).await.unwrap();
    assert_eq!(now_of(&*s, &spotted).await.state, InstanceState::Terminated);
    assert_eq!(s.take_due_events(t0 + 300_000, 10).await.unwrap(), None);

    // A maintenance stop scheduled at launch: due from the launch's write.
    let t1 = t0 + 600_000;
    let maintained = launch_one(&*s, |i| {
        let at = model::time::now_ms() + 600_000;
        let schedule = EventSchedule {
            code: EventCode::InstanceStop,
            description: None,
            not_before_ms: at,
            window_ms: Some(3_600_000),
            deadline_ms: None,
        };
        i.schedule_event(schedule, "instance-event-0123456789abcdef0".into())
            .unwrap();
    })
    .await;
    let at = maintained.events.maintenance[0].not_before_ms;
    assert!(at >= t1);
    assert_eq!(s.next_event_due().await.unwrap(), Some(at));
    assert_eq!(s.take_due_events(at, 10).await.unwrap(), None);
    let m = now_of(&*s, &maintained).await;
    assert_eq!(m.events.maintenance[0].state, EventState::Completed);
    assert_eq!(m.state, InstanceState::Stopping);
    assert_eq!(in_state(&*s, "stopping").await, [m.instance_id.as_str()]);
    assert_eq!(s.next_event_due().await.unwrap(), None);

    // The instance without events was never written.
    assert_eq!(now_of(&*s, &plain).await, plain);
    assert_eq!(fed(&*s, start, &plain.instance_id).await, []);
    s.close().await;
}
