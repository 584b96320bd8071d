//! The shape that makes pages fast, on every backend (issue 13): a filtered page of
//! DescribeInstances reads about what it returns, whatever the fleet's size and however
//! selective its filters. `read` is the backend's count of the rows its pages read
//! (`SqliteStore::rows_read`, `PgStore::rows_read`); `tests/sqlite_pages.rs` and
//! `tests/postgres.rs` run these cases.

use super::{launch, require_tokens, scope};
use crate as store;
use crate::{InstanceQuery, Store};
use model::filter::Filter;
use model::HttpTokens;

/// The rows the backend's pages have read so far.
pub type Counter<'a> = &'a (dyn Fn() -> u64 + Sync);

pub fn f(name: &str, values: &[&str]) -> Filter {
    Filter {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// `count` instances, every `every`th with IMDSv2 required; returns the ids required, in
/// launch order.
pub async fn fleet(s: &dyn Store, count: u32, every: usize) -> Vec<String> {
    let mut all = Vec::new();
    for _ in 0..count / 500 {
        all.extend(launch(s, 500).await);
    }
    let required: Vec<String> = all
        .iter()
        .step_by(every)
        .map(|i| i.instance_id.clone())
        .collect();
    s.update_instances(
        &scope(),
        &required,
        store::ungated(),
        Box::new(|i, _| {
            i.metadata.http_tokens = HttpTokens::Required;
            Ok(())
        }),
    )
    .await
    .unwrap();
    required
}

/// Every page of `filters` at `limit` a page: the ids in order, and the most rows one page
/// read.
pub async fn pages(
    s: &dyn Store,
    read: Counter<'_>,
    filters: Vec<Filter>,
    limit: u32,
) -> (Vec<String>, u64) {
    let mut q = InstanceQuery {
        ids: None,
        filters,
        after: None,
        limit: Some(limit),
    };
    let (mut ids, mut most) = (Vec::new(), 0);
    loop {
        let before = read();
        let page = s.describe_instances(&scope(), &q).await.unwrap();
        most = most.max(read() - before);
        assert!(page.instances.len() <= limit as usize);
        ids.extend(page.instances.into_iter().map(|i| i.instance_id));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return (ids, most),
        }
    }
}

/// A filtered page reads its rows and a constant, not the fleet, nor the instances its
/// filters refuse.
pub async fn a_filtered_page_reads_what_it_returns_not_the_fleet(s: &dyn Store, read: Counter<'_>) {
    let required = fleet(s, 2500, 250).await;
    assert_eq!(required.len(), 10);
    // A page of 5 reads its 5 and the one after, twice (candidates, then documents), a few
    // rows to look up a wildcard's values and, with several filters, at most two pages and a
    // little of each to choose the one that drives: never the 2,500 instances, nor the
    // 2,490 that fail.
    let page = 5 + 1;
    let bound = |filters: &[Filter]| {
        let choosing = if filters.len() > 1 {
            filters.len() * (2 * page + 16)
        } else {
            0
        };
        2 * page + choosing + 8
    };
    for filters in [
        vec![f("metadata-options.http-tokens", &["required"])],
        // Several values: their ranges merged.
        vec![f(
            "metadata-options.http-tokens",
            &["required", "nothing-else"],
        )],
        // A wildcard: its distinct values looked up, then merged.
        vec![f("metadata-options.http-tokens", &["req*"])],
        // A broad filter beside it: the selective one drives the page.
        vec![
            f("instance-type", &["m5.large"]),
            f("metadata-options.http-tokens", &["required"]),
            f("availability-zone", &["us-west-2*"]),
        ],
        // A field of the options every instance matches, beside the selective one.
        vec![
            f("metadata-options.http-endpoint", &["enabled"]),
            f("metadata-options.http-tokens", &["required"]),
            f("metadata-options.http-put-response-hop-limit", &["1", "2"]),
        ],
    ] {
        let (ids, most) = pages(s, read, filters.clone(), 5).await;
        assert_eq!(ids, required, "{filters:?}");
        assert!(
            most <= bound(&filters) as u64,
            "{filters:?}: a page read {most} rows"
        );
    }
    // A filter of rows, not of a column: its exact values' ranges merged; a wildcard value's
    // values looked up from its literal prefix (GLOB on SQLite, LIKE on PostgreSQL), each
    // beside a column filter, as the model matches them.
    let held = s.instances(&scope(), &required).await.unwrap();
    let ips: Vec<String> = held.iter().map(|i| i.private_ip.to_string()).collect();
    let (ids, most) = pages(
        s,
        read,
        vec![f("private-ip-address", &[&ips[3], &ips[2]])],
        5,
    )
    .await;
    assert_eq!(ids, required[2..4]);
    assert!(
        most <= bound(&[]) as u64,
        "private-ip-address: a page read {most} rows"
    );
    let wild = format!("{}*", &ips[5][..ips[5].len() - 1]);
    let escaped = format!("{}\\*", &ips[5][..ips[5].len() - 1]);
    for (value, filters) in [
        (
            &wild,
            vec![
                f("private-ip-address", &[&wild]),
                f("metadata-options.http-tokens", &["required"]),
            ],
        ),
        (
            &wild,
            vec![
                f("metadata-options.http-tokens", &["required"]),
                f("private-ip-address", &[&wild]),
            ],
        ),
        (
            &escaped,
            vec![
                f("private-ip-address", &[&escaped]),
                f("metadata-options.http-tokens", &["required"]),
            ],
        ),
    ] {
        let expected: Vec<String> = held
            .iter()
            .filter(|i| model::filter::matches(value, &i.private_ip.to_string()))
            .map(|i| i.instance_id.clone())
            .collect();
        assert!(!expected.is_empty() || value == &escaped);
        let (ids, _) = pages(s, read, filters.clone(), 5).await;
        assert_eq!(ids, expected, "{filters:?}");
    }
    // Exact instance ids drive by the instances' unique index (schema 9), in launch order;
    // a wildcard id is probed on each row.
    let (ids, most) = pages(
        s,
        read,
        vec![
            f("instance-id", &[&required[7], &required[3]]),
            f("instance-type", &["m5.large"]),
        ],
        5,
    )
    .await;
    assert_eq!(ids, [required[3].clone(), required[7].clone()]);
    assert!(most <= bound(&[]) as u64, "a page read {most} rows");
    let id = &required[4];
    let prefix = format!("{}?", &id[..id.len() - 1]);
    let (ids, _) = pages(
        s,
        read,
        vec![
            f("instance-id", &[&prefix]),
            f("metadata-options.http-tokens", &["required"]),
        ],
        5,
    )
    .await;
    assert_eq!(ids, [required[4].clone()]);
    // No filter: the scope's instances, a page's worth.
    let before = read();
    let page = s
        .describe_instances(
            &scope(),
            &InstanceQuery {
                limit: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.instances.len(), 5);
    assert!(read() - before <= bound(&[]) as u64);
    // A filter nothing matches reads next to nothing.
    let (ids, most) = pages(s, read, vec![f("instance-type", &["t2.nano", "c5.*"])], 5).await;
    assert!(ids.is_empty());
    assert!(most <= 8, "{most}");
    let (ids, most) = pages(
        s,
        read,
        vec![f("metadata-options.http-put-response-hop-limit", &["2"])],
        5,
    )
    .await;
    assert!(ids.is_empty());
    assert!(most <= 8, "{most}");
    // Another account's scope reads none of these instances.
    let other = model::Scope::new("210987654321", "us-west-2");
    let page = s
        .describe_instances(
            &other,
            &InstanceQuery {
                filters: vec![f("instance-type", &["m5.large"])],
                limit: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(page.instances.is_empty() && page.next.is_none());
}

/// `metadata-options.state` is answered from the instances' `pending_apply` column, not
/// filter rows: a page of the few pending instances reads what it returns, the applied ones
/// are the rest, and an acknowledgement moves an instance from one to the other.
pub async fn a_page_of_pending_instances_reads_what_it_returns(s: &dyn Store, read: Counter<'_>) {
    let mut all = Vec::new();
    for _ in 0..5 {
        all.extend(launch(s, 500).await);
    }
    let ids: Vec<String> = all.iter().map(|i| i.instance_id.clone()).collect();
    let applied: Vec<(String, u64)> = all
        .iter()
        .map(|i| (i.instance_id.clone(), i.options_generation))
        .collect();
    s.mark_applied(&applied).await.unwrap();
    let pending: Vec<String> = ids.iter().step_by(250).cloned().collect();
    require_tokens(s, &pending).await;
    let (got, most) = pages(s, read, vec![f("metadata-options.state", &["pending"])], 5).await;
    assert_eq!(got, pending);
    assert!(
        most <= 2 * 6 + 8,
        "a page of pending instances read {most} rows"
    );
    let (got, _) = pages(s, read, vec![f("metadata-options.state", &["p*"])], 5).await;
    assert_eq!(got, pending);
    // Beside a selective filter, the state is a probe of what that one drives.
    let (got, most) = pages(
        s,
        read,
        vec![
            f("metadata-options.state", &["applied"]),
            f("metadata-options.http-tokens", &["required"]),
        ],
        5,
    )
    .await;
    assert!(got.is_empty());
    assert!(most <= 2 * (2 * 6 + 16) + 8, "{most}");
    let (got, _) = pages(
        s,
        read,
        vec![f("metadata-options.state", &["applied"])],
        1000,
    )
    .await;
    let rest: Vec<String> = ids
        .iter()
        .filter(|i| !pending.contains(i))
        .cloned()
        .collect();
    assert_eq!(got, rest);
    // The acknowledgement of the first one makes it applied again.
    let now = s.instances(&scope(), &pending[..1]).await.unwrap();
    s.mark_applied(&[(pending[0].clone(), now[0].options_generation)])
        .await
        .unwrap();
    let (got, _) = pages(s, read, vec![f("metadata-options.state", &["pending"])], 5).await;
    assert_eq!(got, pending[1..].to_vec());
}
