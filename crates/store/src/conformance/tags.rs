//! DescribeTags: each filter selects in the store, alone and together, and pages in `pos`
//! order skip and repeat nothing, whichever filter the backend reads by.

use super::{launch, scope, tag, Backend};
use crate::{TagQuery, TagRow};
use model::filter::Filter;

fn f(name: &str, values: &[&str]) -> Filter {
    Filter {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

fn line(t: &TagRow) -> String {
    format!("{} {} {}", t.resource_id, t.key, t.value)
}

/// Every tag `filters` select, a page of `limit` at a time.
async fn paged(s: &dyn crate::Store, filters: Vec<Filter>, limit: u32) -> Vec<String> {
    let mut q = TagQuery {
        filters,
        after: None,
        limit: Some(limit),
    };
    let mut out = Vec::new();
    loop {
        let page = s.describe_tags(&scope(), &q).await.unwrap();
        assert!(page.tags.len() <= limit as usize);
        out.extend(page.tags.iter().map(line));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return out,
        }
    }
}

pub async fn tag_filters_and_pages<B: Backend>(b: &B) {
    let s = b.open().await;
    let all = launch(&*s, 6).await;
    for (n, i) in all.iter().enumerate() {
        s.update_instances(
            &scope(),
            std::slice::from_ref(&i.instance_id),
            crate::ungated(),
            Box::new(move |i, _| {
                i.tags.push(tag("Name", &format!("web-{n}")));
                i.tags
                    .push(tag("env", if n % 2 == 0 { "prod" } else { "dev" }));
                Ok(())
            }),
        )
        .await
        .unwrap();
    }
    let every = paged(&*s, vec![], 100).await;
    assert_eq!(every.len(), 12);
    let expect = |keep: &dyn Fn(&str, &str, &str) -> bool| -> Vec<String> {
        every
            .iter()
            .filter(|l| {
                let p: Vec<&str> = l.split(' ').collect();
                keep(p[0], p[1], p[2])
            })
            .cloned()
            .collect()
    };
    let (a, b) = (all[1].instance_id.as_str(), all[4].instance_id.as_str());
    let cases: Vec<(Vec<Filter>, Vec<String>)> = vec![
        (vec![f("key", &["Name"])], expect(&|_, k, _| k == "Name")),
        (vec![f("key", &["N*"])], expect(&|_, k, _| k == "Name")),
        (vec![f("key", &["*v"])], expect(&|_, k, _| k == "env")),
        (vec![f("key", &["env", "Name"])], every.clone()),
        (vec![f("key", &["nothing", "x*"])], vec![]),
        (
            vec![f("tag:env", &["prod"])],
            expect(&|_, k, v| k == "env" && v == "prod"),
        ),
        (vec![f("value", &["dev"])], expect(&|_, _, v| v == "dev")),
        (
            vec![f("resource-id", &[b, a])],
            expect(&|id, _, _| id == a || id == b),
        ),
        (
            vec![f("resource-id", &[a, b]), f("key", &["env"])],
            expect(&|id, k, _| (id == a || id == b) && k == "env"),
        ),
        (vec![f("resource-id", &["i-*"])], every.clone()),
        (vec![f("resource-type", &["instance"])], every.clone()),
        (vec![f("resource-type", &["vpc"])], vec![]),
        (
            vec![f("resource-type", &["inst*"]), f("value", &["web-*"])],
            expect(&|_, k, _| k == "Name"),
        ),
    ];
    for (filters, want) in cases {
        for limit in [1, 2, 5, 100] {
            assert_eq!(
                paged(&*s, filters.clone(), limit).await,
                want,
                "{filters:?} by {limit}"
            );
        }
    }
    let err = s
        .describe_tags(
            &scope(),
            &TagQuery {
                filters: vec![f("bogus", &["x"])],
                ..Default::default()
            },
        )
        .await;
    assert!(err.is_err(), "an unknown filter is refused");
}
