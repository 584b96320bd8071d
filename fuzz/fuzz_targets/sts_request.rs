//! STS's Query requests: a body parsed into pairs, decoded along the operation's input shape in
//! botocore's `sts` model and read into the typed request (`ec2api::sts::Request::parse`), then an
//! AssumeRole's members checked as the server checks them before it looks at the caller and
//! the role (`ec2api::sts::check_assume_role`): session tags, session name, session policy
//! (length, then parsed), the packed size of the policy and tags together, the transitive
//! tag keys.
//!
//! The operation is the body's own `Action`; otherwise the first byte picks GetCallerIdentity,
//! AssumeRole or DecodeAuthorizationMessage, so that AssumeRole's members are reachable from
//! any body.
//!
//! Besides "never panics", what the checks accept holds: at most 50 tags, a session name of
//! 2 to 64 characters, a packed size of at most 100%, present exactly when a policy or tags
//! are, each transitive key the key of one of the tags, once.
#![no_main]

use ec2api::protocol::query::Params;
use ec2api::sts::{check_assume_role, Request};
use libfuzzer_sys::fuzz_target;

const ACTIONS: [&str; 3] = [
    "GetCallerIdentity",
    "AssumeRole",
    "DecodeAuthorizationMessage",
];

fuzz_target!(|data: &[u8]| {
    let Ok(mut params) = Params::parse(data) else {
        return;
    };
    if !params.get("Action").is_some_and(|a| ACTIONS.contains(&a)) {
        // The chosen `Action` first: the first value of a name is the one read.
        let action = ACTIONS[usize::from(data.first().copied().unwrap_or(0)) % ACTIONS.len()];
        let Ok(mut chosen) = Params::parse(format!("Action={action}").as_bytes()) else {
            return;
        };
        chosen.extend(params);
        params = chosen;
    }
    let Ok(Request::AssumeRole(input)) = Request::parse(&params) else {
        return;
    };
    let Ok(c) = check_assume_role(input) else {
        return;
    };
    assert!(c.tags.len() <= 50, "{c:?}");
    assert!((2..=64).contains(&c.session.chars().count()), "{c:?}");
    assert!(c.packed.is_none_or(|p| p <= 100), "{c:?}");
    assert_eq!(
        c.packed.is_some(),
        c.policy.is_some() || !c.tags.is_empty(),
        "{c:?}"
    );
    for (n, key) in c.transitive.iter().enumerate() {
        assert!(c.tags.iter().any(|t| &t.key == key), "{c:?}");
        assert!(!c.transitive[..n].iter().any(|k| k.eq_ignore_ascii_case(key)), "{c:?}");
    }
});
