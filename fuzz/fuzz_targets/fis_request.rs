//! FIS's rest-json requests (spec events.md §7): method, path, query string and JSON body read
//! into a typed request and checked (`ec2api::fis::parse`): routes and ids, list parameters and
//! page tokens, the template body (required members, ARNs XOR tags, selection modes, filter
//! paths, ISO 8601 durations, startAfter cycles) and StartExperiment's.
//!
//! Input: one byte picks the method, one the path's resource, then the path's id and the query
//! (`?` between them) up to the first newline, then the body.
//!
//! Besides "never panics", what a check passes holds: a template that `parse` accepts passes
//! the domain's checks again after a round trip through the JSON the store keeps, and its
//! actions plan (`model::fis::plan`) to times that never go backwards.
#![no_main]

use ec2api::fis::{parse, Request};
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 5] = ["GET", "POST", "DELETE", "PATCH", "PUT"];
const RESOURCES: [&str; 4] = ["experimentTemplates", "experiments", "actions", "other"];

fuzz_target!(|data: &[u8]| {
    let [m, r, rest @ ..] = data else {
        return;
    };
    let method = METHODS[usize::from(*m) % METHODS.len()];
    let resource = RESOURCES[usize::from(*r) % RESOURCES.len()];
    let (head, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(n) => (&rest[..n], &rest[n + 1..]),
        None => (rest, &b""[..]),
    };
    let head = String::from_utf8_lossy(head);
    let (id, query) = head.split_once('?').unwrap_or((&head, ""));
    let path = if id.is_empty() {
        format!("/{resource}")
    } else {
        format!("/{resource}/{id}")
    };
    let Ok(request) = parse(method, &path, query, body) else {
        return;
    };
    if let Request::CreateTemplate(c) = request {
        assert_eq!(c.spec.validate(), Ok(()));
        let kept = serde_json::to_string(&c.spec).expect("a template serializes");
        let back: model::fis::TemplateSpec =
            serde_json::from_str(&kept).expect("a kept template reads back");
        assert_eq!(back, c.spec);
        assert_eq!(back.validate(), Ok(()));
        let start = 1_700_000_000_000;
        for (starts, completes, duration) in model::fis::plan(&c.spec.actions, start, 3000).values()
        {
            assert!(
                *starts >= start && completes >= starts,
                "{starts} {completes}"
            );
            assert!((model::fis::MIN_DURATION_MS..=model::fis::MAX_DURATION_MS).contains(duration));
        }
        for t in c.spec.targets.values() {
            let mode = model::fis::SelectionMode::parse(&t.selection_mode).expect("checked");
            let picked = mode.pick(7, 42);
            assert!(picked.len() <= 7 && picked.windows(2).all(|w| w[0] < w[1]));
        }
    }
});
