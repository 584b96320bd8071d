//! The IAM policy parser and evaluator: a policy document as a client sends it (an inline or
//! managed policy, an SCP file, a session policy, a trust policy), then the decision for a
//! request whose action, resource and condition context also come from the input.
//!
//! Input, NUL-separated: `POLICY \0 ACTION \0 RESOURCE \0 CONTEXT`, where CONTEXT is lines of
//! `key=value` (a key repeated gives a multi-valued key).
//!
//! Besides "never panics", one property of the evaluation logic is asserted: the same policy
//! used at every level (identity, each SCP level, boundary, session) decides exactly as it does
//! alone, since each level then holds the same matching statements.
#![no_main]

use iam::condition::Context;
use iam::evaluate::{decide, decide_all, Check, PolicySet};
use iam::policy::Policy;
use iam::trust::{TrustCaller, TrustPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\0');
    let document = parts.next().unwrap_or("");
    let action = parts.next().unwrap_or("ec2:DescribeInstances");
    let resource = parts.next().unwrap_or("*");
    let mut context = Context::new();
    for line in parts.next().unwrap_or("").lines() {
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        let mut values = context.get(k).map(<[String]>::to_vec).unwrap_or_default();
        values.push(v.to_string());
        context.set(k, values);
    }

    if let Ok(trust) = TrustPolicy::parse_str(document) {
        let arns: Vec<String> = context
            .get("aws:PrincipalArn")
            .map(<[String]>::to_vec)
            .unwrap_or_else(|| vec!["arn:aws:iam::123456789012:user/alice".to_string()]);
        let account = context
            .get("aws:PrincipalAccount")
            .and_then(|v| v.first().cloned())
            .unwrap_or_else(|| "123456789012".to_string());
        let caller = TrustCaller {
            account: &account,
            arns: &arns,
            context: &context,
        };
        let _ = trust.answer(&caller, action);
        let _ = trust.trusts_service("ec2.amazonaws.com");
    }

    let Ok(policy) = Policy::parse_str(document) else {
        return;
    };
    let check = Check {
        action,
        resource,
        context: &context,
    };
    let alone = PolicySet {
        identity: vec![&policy],
        ..PolicySet::default()
    };
    let everywhere = PolicySet {
        identity: vec![&policy],
        scp_levels: vec![vec![&policy], vec![&policy]],
        boundary: Some(&policy),
        session: Some(&policy),
        management_account: false,
    };
    let a = decide(&alone, &check);
    let e = decide(&everywhere, &check);
    assert_eq!(a.allowed(), e.allowed(), "{} vs {}", a.reason(), e.reason());
    assert_eq!(
        a.explicit_deny(),
        e.explicit_deny(),
        "{} vs {}",
        a.reason(),
        e.reason()
    );
    let _ = e.reason();

    // Several resources: allowed only if each is.
    let other = Check {
        action,
        resource: "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0",
        context: &context,
    };
    let all = decide_all(&alone, &[check.clone(), other.clone()]);
    assert_eq!(
        all.allowed(),
        a.allowed() && decide(&alone, &other).allowed()
    );
});
