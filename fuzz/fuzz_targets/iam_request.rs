//! The IAM Query API's requests: a body parsed into pairs, decoded along the operation's
//! input shape in botocore's `iam` model and read into the typed request
//! (`ec2api::iam_api::parse`, what the server does before it authorizes and answers):
//! required members in IAM's order, listings' `PathPrefix`, `Marker` and `MaxItems` within the
//! model's constraints, ListPolicies' enums and booleans, CreateRole's `MaxSessionDuration`,
//! the simulator's context entries (typed values: strings, numbers, booleans, dates, IPs,
//! lists of them).
//!
//! The operation is the body's own `Action` when the model has it; otherwise the first byte
//! picks one, so that every operation's input is reachable from any body.
//!
//! Besides "never panics", what a listing `parse` accepts holds: `MaxItems` is 1 to 1,000,
//! the marker 1 to 320 characters, the prefix begins with `/`.
#![no_main]

use ec2api::iam_api::request::{Listing, Request};
use ec2api::protocol::query::Params;
use imds_fuzz::iam_operations;
use libfuzzer_sys::fuzz_target;

fn check(l: &Listing) {
    assert!((1..=1000).contains(&l.max_items), "{l:?}");
    assert!(l.path_prefix.starts_with('/'), "{l:?}");
    if let Some(m) = &l.marker {
        assert!((1..=320).contains(&m.chars().count()), "{l:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut params) = Params::parse(data) else {
        return;
    };
    let ops = iam_operations();
    if !params.get("Action").is_some_and(|a| ops.iter().any(|o| o == a)) {
        // The chosen `Action` first: the first value of a name is the one read.
        let op = &ops[usize::from(data.first().copied().unwrap_or(0)) % ops.len()];
        let Ok(mut chosen) = Params::parse(format!("Action={op}").as_bytes()) else {
            return;
        };
        chosen.extend(params);
        params = chosen;
    }
    let Ok(request) = ec2api::iam_api::parse(&params) else {
        return;
    };
    match &request {
        Request::ListUsers(l)
        | Request::ListRoles(l)
        | Request::ListGroups(l)
        | Request::ListInstanceProfiles(l) => check(l),
        Request::ListPolicies(p) => check(&p.listing),
        Request::ListEntitiesForPolicy(e) => check(&e.listing),
        Request::GetAccountAuthorizationDetails { listing, .. } => check(listing),
        Request::ListInstanceProfilesForRole { listing, .. }
        | Request::ListGroupsForUser { listing, .. }
        | Request::GetGroup { listing, .. }
        | Request::ListAttachedPolicies { listing, .. }
        | Request::ListInlinePolicies { listing, .. }
        | Request::ListPolicyVersions { listing, .. }
        | Request::ListTags { listing, .. } => check(listing),
        _ => {}
    }
});
