//! The evaluator against spec/iam.md's cases, the condition operators and qualifiers, and
//! the property that an explicit deny always wins.

use super::*;
use crate::condition::Context;
use crate::glob;
use crate::policy::Policy;

const ALLOW_EC2: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#;
const FULL_SCP: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const A: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"RequireImdsV2","Effect":"Deny","Action":"ec2:RunInstances","Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"StringNotEquals":{"ec2:MetadataHttpTokens":"required"}}}]}"#;
const B: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:RunInstances","Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"NumericGreaterThan":{"ec2:MetadataHttpPutResponseHopLimit":"3"}}}]}"#;
const C: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:ModifyInstanceMetadataOptions","Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"StringNotEquals":{"ec2:Attribute/HttpTokens":"required"},"Null":{"ec2:Attribute/HttpTokens":"false"}}}]}"#;
const C_NO_NULL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:ModifyInstanceMetadataOptions","Resource":"arn:aws:ec2:*:*:instance/*","Condition":{"StringNotEquals":{"ec2:Attribute/HttpTokens":"required"}}}]}"#;
const D: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:ModifyInstanceMetadataOptions","Resource":"*","Condition":{"StringNotLike":{"aws:PrincipalARN":"arn:aws:iam::*:role/ec2-imds-admins"}}}]}"#;
const E: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"ec2:RoleDelivery":"2.0"}}}]}"#;
const E_IF_EXISTS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericLessThanIfExists":{"ec2:RoleDelivery":"2.0"}}}]}"#;

const INSTANCE: &str = "arn:aws:ec2:us-east-1:111122223333:instance/*";
const IMAGE: &str = "arn:aws:ec2:us-east-1::image/ami-0abcdef1234567890";

fn p(s: &str) -> Policy {
    Policy::parse_str(s).unwrap()
}

/// Whether `pol`, as the caller's only (identity) policy, allows the check.
fn identity_allows(pol: &Policy, action: &str, resource: &str, ctx: &Context) -> bool {
    let set = PolicySet {
        identity: vec![pol],
        ..Default::default()
    };
    decide(
        &set,
        &Check {
            action,
            resource,
            context: ctx,
        },
    )
    .allowed()
}

fn run(set: &PolicySet<'_>, ctx: &Context) -> Decision {
    let empty = Context::new();
    decide_all(
        set,
        &[
            Check {
                action: "ec2:RunInstances",
                resource: IMAGE,
                context: &empty,
            },
            Check {
                action: "ec2:RunInstances",
                resource: INSTANCE,
                context: ctx,
            },
        ],
    )
}

fn tokens(v: &str) -> Context {
    Context::new().with("ec2:MetadataHttpTokens", v)
}

#[test]
fn case_1_no_policies_is_implicit_deny() {
    let set = PolicySet::default();
    let d = decide(
        &set,
        &Check {
            action: "ec2:DescribeInstances",
            resource: "*",
            context: &Context::new(),
        },
    );
    assert_eq!(d.outcome, Outcome::NoAllow(Kind::Identity));
}

#[test]
fn cases_2_to_6_require_imdsv2() {
    let (allow, a) = (p(ALLOW_EC2), p(A));
    let set = PolicySet {
        identity: vec![&allow, &a],
        ..Default::default()
    };
    assert!(run(&set, &tokens("required")).allowed(), "case 2");
    let d = run(&set, &tokens("optional"));
    assert!(d.explicit_deny(), "case 3");
    assert_eq!(d.matched[0].sid.as_deref(), Some("RequireImdsV2"));
    assert!(
        run(&set, &Context::new()).explicit_deny(),
        "case 4: key absent, StringNotEquals true"
    );
    let star = p(&A.replace("arn:aws:ec2:*:*:instance/*", "*"));
    let set = PolicySet {
        identity: vec![&allow, &star],
        ..Default::default()
    };
    assert!(
        run(&set, &tokens("required")).explicit_deny(),
        "case 6: the image check lacks the key"
    );
}

#[test]
fn cases_7_8_hop_limit() {
    let (allow, b) = (p(ALLOW_EC2), p(B));
    let set = PolicySet {
        identity: vec![&allow, &b],
        ..Default::default()
    };
    let hop = |h: &str| Context::new().with("ec2:MetadataHttpPutResponseHopLimit", h);
    assert!(run(&set, &hop("3")).allowed());
    assert!(run(&set, &hop("4")).explicit_deny());
    assert!(
        run(&set, &Context::new()).allowed(),
        "case 8: absent key does not trigger"
    );
}

#[test]
fn cases_9_to_12_modify_guard() {
    let (allow, c, c2) = (p(ALLOW_EC2), p(C), p(C_NO_NULL));
    let res = "arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0";
    let go = |set: &PolicySet<'_>, ctx: &Context| {
        decide(
            set,
            &Check {
                action: "ec2:ModifyInstanceMetadataOptions",
                resource: res,
                context: ctx,
            },
        )
    };
    let set = PolicySet {
        identity: vec![&allow, &c],
        ..Default::default()
    };
    let attr = |v: &str| Context::new().with("ec2:Attribute/HttpTokens", v);
    assert!(go(&set, &attr("optional")).explicit_deny(), "case 9");
    assert!(go(&set, &attr("required")).allowed(), "case 10");
    let hop_only = Context::new().with("ec2:Attribute/HttpPutResponseHopLimit", "2");
    assert!(go(&set, &hop_only).allowed(), "case 11");
    let set = PolicySet {
        identity: vec![&allow, &c2],
        ..Default::default()
    };
    assert!(go(&set, &hop_only).explicit_deny(), "case 12");
}

#[test]
fn cases_13_14_one_role_only() {
    let (allow, d) = (p(ALLOW_EC2), p(D));
    let set = PolicySet {
        identity: vec![&allow, &d],
        ..Default::default()
    };
    let who = |arn: &str| Context::new().with("aws:PrincipalArn", arn);
    let go = |ctx: &Context| {
        decide(
            &set,
            &Check {
                action: "ec2:ModifyInstanceMetadataOptions",
                resource: "*",
                context: ctx,
            },
        )
    };
    assert!(go(&who("arn:aws:iam::111122223333:role/ec2-imds-admins")).allowed());
    assert!(go(&who("arn:aws:iam::111122223333:role/dev")).explicit_deny());
    assert!(
        go(&who("arn:aws:iam::111122223333:role/EC2-IMDS-Admins")).explicit_deny(),
        "case-sensitive"
    );
}

#[test]
fn cases_15_to_17_role_delivery() {
    let (allow, e, e2) = (p(ALLOW_EC2), p(E), p(E_IF_EXISTS));
    let go = |set: &PolicySet<'_>, ctx: &Context| {
        decide(
            set,
            &Check {
                action: "ec2:DescribeInstances",
                resource: "*",
                context: ctx,
            },
        )
    };
    let set = PolicySet {
        identity: vec![&allow, &e],
        ..Default::default()
    };
    assert!(go(&set, &Context::new().with("ec2:RoleDelivery", "1.0")).explicit_deny());
    assert!(go(&set, &Context::new().with("ec2:RoleDelivery", "2.0")).allowed());
    assert!(
        go(&set, &Context::new()).allowed(),
        "case 16: user keys, key absent"
    );
    let set = PolicySet {
        identity: vec![&allow, &e2],
        ..Default::default()
    };
    assert!(
        go(&set, &Context::new()).explicit_deny(),
        "case 17: IfExists"
    );
}

#[test]
fn cases_18_to_21_scps_and_boundaries() {
    let (allow, a, full) = (p(ALLOW_EC2), p(A), p(FULL_SCP));
    let set = PolicySet {
        identity: vec![&allow],
        scp_levels: vec![vec![&full], vec![&full, &a]],
        ..Default::default()
    };
    let d = run(&set, &tokens("optional"));
    assert_eq!(d.outcome, Outcome::ExplicitDeny(Kind::Scp), "case 18");
    assert_eq!(
        d.reason(),
        "with an explicit deny in a service control policy"
    );
    let describe_only = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#,
    );
    let set = PolicySet {
        identity: vec![&allow],
        scp_levels: vec![vec![&full], vec![&describe_only]],
        ..Default::default()
    };
    let d = run(&set, &tokens("required"));
    assert_eq!(d.outcome, Outcome::NoAllow(Kind::Scp), "case 19");
    assert_eq!(
        d.reason(),
        "because no service control policy allows the ec2:RunInstances action"
    );
    let set = PolicySet {
        management_account: true,
        ..set
    };
    assert!(run(&set, &tokens("required")).allowed(), "case 20");
    let set = PolicySet {
        identity: vec![&allow],
        boundary: Some(&describe_only),
        ..Default::default()
    };
    let go = |action: &str| {
        decide(
            &set,
            &Check {
                action,
                resource: "*",
                context: &Context::new(),
            },
        )
    };
    assert_eq!(
        go("ec2:ModifyInstanceMetadataOptions").outcome,
        Outcome::NoAllow(Kind::Boundary),
        "case 21"
    );
    assert!(go("ec2:DescribeInstances").allowed());
}

#[test]
fn cases_22_23_resources() {
    let one = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:ModifyInstanceMetadataOptions","Resource":"arn:aws:ec2:us-east-1:111122223333:instance/i-0aaaaaaaaaaaaaaaa"}]}"#,
    );
    let set = PolicySet {
        identity: vec![&one],
        ..Default::default()
    };
    let go = |res: &str| {
        decide(
            &set,
            &Check {
                action: "ec2:ModifyInstanceMetadataOptions",
                resource: res,
                context: &Context::new(),
            },
        )
    };
    assert!(go("arn:aws:ec2:us-east-1:111122223333:instance/i-0aaaaaaaaaaaaaaaa").allowed());
    assert!(!go("arn:aws:ec2:us-east-1:111122223333:instance/i-0bbbbbbbbbbbbbbbb").allowed());
    let inst = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:ModifyInstanceMetadataDefaults","Resource":"arn:aws:ec2:*:*:instance/*"}]}"#,
    );
    let set = PolicySet {
        identity: vec![&inst],
        ..Default::default()
    };
    assert!(
        !decide(
            &set,
            &Check {
                action: "ec2:ModifyInstanceMetadataDefaults",
                resource: "*",
                context: &Context::new()
            }
        )
        .allowed(),
        "case 23"
    );
}

#[test]
fn cases_26_27_key_case_and_numbers() {
    let upper = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*","Condition":{"StringEquals":{"EC2:METADATAHTTPTOKENS":"required"}}}]}"#,
    );
    let set = PolicySet {
        identity: vec![&upper],
        ..Default::default()
    };
    let go = |ctx: &Context| {
        decide(
            &set,
            &Check {
                action: "ec2:RunInstances",
                resource: INSTANCE,
                context: ctx,
            },
        )
    };
    assert!(go(&tokens("required")).allowed());
    assert!(
        !go(&tokens("Required")).allowed(),
        "values are case-sensitive"
    );
    let num = p(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"ec2:RoleDelivery":"2"}}}]}"#,
    );
    let set = PolicySet {
        identity: vec![&num],
        ..Default::default()
    };
    assert!(decide(
        &set,
        &Check {
            action: "ec2:DescribeInstances",
            resource: "*",
            context: &Context::new().with("ec2:RoleDelivery", "2.0")
        }
    )
    .allowed());
}

/// Issue 11: policy variables are resolved only in a `"Version": "2012-10-17"` document;
/// with 2008-10-17, or no Version (which means 2008-10-17), `${aws:username}` is a literal
/// string (IAM User Guide, "IAM policy elements: Variables and tags").
#[test]
fn policy_variables_only_in_2012_10_17_documents() {
    let ctx = Context::new().with("aws:username", "alice");
    let allowed = |version: &str| {
        let pol = p(&format!(
            r#"{{{version}"Statement":[{{"Effect":"Allow","Action":"iam:GetUser",
            "Resource":"arn:aws:iam::*:user/${{aws:username}}",
            "Condition":{{"StringEquals":{{"aws:username":"${{aws:username}}"}}}}}}]}}"#
        ));
        identity_allows(
            &pol,
            "iam:GetUser",
            "arn:aws:iam::111122223333:user/alice",
            &ctx,
        )
    };
    assert!(allowed(r#""Version":"2012-10-17","#));
    assert!(
        !allowed(r#""Version":"2008-10-17","#),
        "2008-10-17: literal"
    );
    assert!(!allowed(""), "no Version: 2008-10-17, literal");
}

#[test]
fn operators_and_qualifiers() {
    let mut ctx = Context::new();
    ctx.set("aws:TagKeys", vec!["Name".into(), "team".into()]);
    ctx.set("aws:SourceIp", vec!["10.1.2.3".into()]);
    ctx.set("aws:CurrentTime", vec!["2026-11-22T18:00:00Z".into()]);
    ctx.set("aws:username", vec!["alice".into()]);
    let cond = |c: &str| {
        let pol = p(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{c}}}]}}"#
        ));
        identity_allows(&pol, "ec2:X", "*", &ctx)
    };
    assert!(cond(
        r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["Name","team","env"]}}"#
    ));
    assert!(!cond(
        r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["Name"]}}"#
    ));
    assert!(cond(
        r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}}"#
    ));
    assert!(!cond(
        r#"{"ForAnyValue:StringEquals":{"aws:Missing":["x"]}}"#
    ));
    assert!(
        cond(r#"{"ForAllValues:StringEquals":{"aws:Missing":["x"]}}"#),
        "absent: vacuously true"
    );
    assert!(cond(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#));
    assert!(cond(
        r#"{"NotIpAddress":{"aws:SourceIp":"192.168.0.0/16"}}"#
    ));
    assert!(cond(
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#
    ));
    assert!(!cond(
        r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01"}}"#
    ));
    assert!(
        cond(r#"{"StringEquals":{"aws:username":"${aws:username}"}}"#),
        "policy variables"
    );
    assert!(cond(
        r#"{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}"#
    ));
    assert!(cond(r#"{"Null":{"aws:Missing":"true"}}"#));
    assert!(!cond(r#"{"Null":{"aws:username":"true"}}"#));
    assert!(cond(r#"{"StringLikeIfExists":{"aws:Missing":"x*"}}"#));
    assert!(!cond(r#"{"ArnLike":{"aws:PrincipalArn":"*"}}"#), "absent");
    assert!(Policy::parse_str(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bogus":{"a":"b"}}}]}"#).is_err());
    assert!(
        Policy::parse_str(r#"{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#)
            .is_err()
    );
}

/// Property: whatever the other policies say, a request matched by an explicit deny is
/// never allowed (a deterministic sweep over generated policy sets).
#[test]
fn explicit_deny_always_wins() {
    let actions = [
        "ec2:RunInstances",
        "ec2:ModifyInstanceMetadataOptions",
        "ec2:DescribeInstances",
    ];
    let patterns = [
        "*",
        "ec2:*",
        "ec2:Run*",
        "ec2:Modify*",
        "ec2:Describe*",
        "ec2:RunInstances",
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..2000 {
        let allow = p(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{}","Resource":"*"}}]}}"#,
            patterns[next(patterns.len())]
        ));
        let deny_pat = patterns[next(patterns.len())];
        let deny = p(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"{deny_pat}","Resource":"*"}}]}}"#
        ));
        let where_deny = next(3);
        let full = p(FULL_SCP);
        let set = PolicySet {
            identity: if where_deny == 0 {
                vec![&allow, &deny]
            } else {
                vec![&allow]
            },
            scp_levels: if where_deny == 1 {
                vec![vec![&full, &deny]]
            } else {
                vec![vec![&full]]
            },
            boundary: if where_deny == 2 { Some(&deny) } else { None },
            ..Default::default()
        };
        let action = actions[next(actions.len())];
        let d = decide(
            &set,
            &Check {
                action,
                resource: "*",
                context: &Context::new(),
            },
        );
        if glob::matches(deny_pat, action, true) {
            assert!(!d.allowed(), "{deny_pat} denies {action}");
            assert!(d.explicit_deny());
        }
    }
}
