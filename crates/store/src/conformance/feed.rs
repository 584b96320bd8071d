//! The change feed: acknowledged writes survive a reopen; the feed's order, contents and trim.

use super::{launch, require_tokens, scope, Backend};
use crate::ChangeKind;
use model::{HttpTokens, OptionsPatch};

/// What was acknowledged is there after a reopen; the feed is ordered and `watch` follows it;
/// `mark_applied` takes a generation once.
pub async fn acknowledged_writes_survive_reopen_and_feed_is_ordered<B: Backend>(b: &B) {
    let id;
    {
        let s = b.open().await;
        let a = launch(&*s, 1).await;
        id = a[0].instance_id.clone();
        let mut inst = a[0].clone();
        require_tokens(&*s, std::slice::from_ref(&id)).await;
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
    let mut expected = back[0].clone();
    assert!(expected.mark_applied(2));
    assert_eq!(
        s.mark_applied(&[(id.clone(), 1)]).await.unwrap(),
        0,
        "not the latest"
    );
    assert_eq!(s.mark_applied(&[(id.clone(), 2)]).await.unwrap(), 1);
    assert_eq!(
        s.mark_applied(&[(id.clone(), 2)]).await.unwrap(),
        0,
        "idempotent"
    );
    let back = s.instances(&scope(), &[id]).await.unwrap();
    assert_eq!(back[0].options_state(), model::OptionsState::Applied);
    assert_eq!(
        back[0], expected,
        "what the model's own acknowledgement makes of it"
    );
    s.close().await;
}

/// Each change is read with the instance as the store holds it now (a follower needs no
/// other read, and converges: the later change of the same instance follows) and the
/// generation the change wrote; once the feed is trimmed, its oldest change says what a
/// follower may have missed.
pub async fn changes_are_read_with_the_instance_now_and_the_feed_says_where_it_starts<
    B: Backend,
>(
    b: &B,
) {
    let s = b.open().await;
    assert_eq!(s.oldest_change().await.unwrap(), None);
    let launched = launch(&*s, 1).await.remove(0);
    let id = launched.instance_id.clone();
    let changed = require_tokens(&*s, std::slice::from_ref(&id))
        .await
        .remove(0)
        .1;
    let feed = s.changes_after(0, 100).await.unwrap();
    // Each change carries what a metadata host keeps of the instance as it is now.
    let now = crate::instances::ServedRecord::of(&changed);
    assert_eq!(feed[0].served.as_ref(), Some(&now));
    assert_eq!(feed[1].served.as_ref(), Some(&now));
    assert_eq!(
        (feed[0].generation, feed[1].generation),
        (launched.options_generation, changed.options_generation)
    );
    assert_eq!(s.oldest_change().await.unwrap(), Some(feed[0].seq));
    // The lifecycle trims changes older than an hour, keeping the latest.
    let later = model::time::now_ms() + 2 * 3_600_000;
    s.advance(later, 0).await.unwrap();
    assert_eq!(s.oldest_change().await.unwrap(), Some(feed[1].seq));
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
        crate::ungated(),
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
