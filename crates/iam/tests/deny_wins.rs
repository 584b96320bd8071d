//! Property: the evaluator never allows a request that an explicit Deny matches, wherever the
//! Deny sits (identity policy, any SCP level, boundary, session policy) and whatever else the
//! policies say (IAM User Guide, "Policy evaluation logic": "an explicit deny in any of these
//! policies overrides the allow").
//!
//! Whether a Deny statement matches is decided by the evaluator on that statement alone; the
//! property is that putting it among any other statements can never turn its deny into an
//! allow (nor into a mere implicit deny).

use iam::condition::Context;
use iam::evaluate::{decide_all, Check, PolicySet};
use iam::policy::Policy;
use imds_iam as iam;
use proptest::prelude::*;

const ACTIONS: &[&str] = &[
    "ec2:RunInstances",
    "ec2:ModifyInstanceMetadataOptions",
    "ec2:DescribeInstances",
    "sts:AssumeRole",
];
const ACTION_PATTERNS: &[&str] = &[
    "*",
    "ec2:*",
    "ec2:Run*",
    "EC2:modify*",
    "ec2:Describe?nstances",
    "sts:*",
    "iam:*",
];
const RESOURCES: &[&str] = &[
    "arn:aws:ec2:us-east-1:111122223333:instance/i-0aaa",
    "arn:aws:ec2:us-east-1:111122223333:instance/*",
    "arn:aws:ec2:us-east-1::image/ami-1",
    "*",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:ec2:*:*:instance/*",
    "arn:aws:ec2:*::image/*",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-0aaa",
];
const CONDITIONS: &[&str] = &[
    "",
    r#","Condition":{"StringNotEquals":{"ec2:MetadataHttpTokens":"required"}}"#,
    r#","Condition":{"StringEquals":{"ec2:MetadataHttpTokens":"required"}}"#,
    r#","Condition":{"NumericGreaterThan":{"ec2:MetadataHttpPutResponseHopLimit":"3"}}"#,
    r#","Condition":{"NumericLessThan":{"ec2:RoleDelivery":"2.0"}}"#,
    r#","Condition":{"Null":{"ec2:Attribute/HttpTokens":"false"}}"#,
    r#","Condition":{"StringNotLikeIfExists":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin*"}}"#,
    r#","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","env"]}}"#,
];

#[derive(Debug, Clone)]
struct Stmt {
    deny: bool,
    not_action: bool,
    action: usize,
    not_resource: bool,
    resource: usize,
    condition: usize,
}

impl Stmt {
    fn json(&self) -> String {
        format!(
            r#"{{"Effect":"{}","{}":"{}","{}":"{}"{}}}"#,
            if self.deny { "Deny" } else { "Allow" },
            if self.not_action {
                "NotAction"
            } else {
                "Action"
            },
            ACTION_PATTERNS[self.action],
            if self.not_resource {
                "NotResource"
            } else {
                "Resource"
            },
            RESOURCE_PATTERNS[self.resource],
            CONDITIONS[self.condition]
        )
    }
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        0..ACTION_PATTERNS.len(),
        prop::bool::weighted(0.15),
        0..RESOURCE_PATTERNS.len(),
        0..CONDITIONS.len(),
    )
        .prop_map(
            |(deny, not_action, action, not_resource, resource, condition)| Stmt {
                deny,
                not_action,
                action,
                not_resource,
                resource,
                condition,
            },
        )
}

fn policy(stmts: &[Stmt]) -> Policy {
    let body: Vec<String> = stmts.iter().map(Stmt::json).collect();
    Policy::parse_str(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        body.join(",")
    ))
    .expect("generated policies parse")
}

fn context() -> impl Strategy<Value = Context> {
    (
        prop::option::of(prop::sample::select(vec!["optional", "required"])),
        prop::option::of(1u8..=64),
        prop::option::of(prop::sample::select(vec!["1.0", "2.0"])),
        prop::option::of(prop::sample::select(vec!["required", "optional"])),
        prop::sample::select(vec![
            "arn:aws:iam::111122223333:role/admin",
            "arn:aws:iam::111122223333:user/dev",
        ]),
        prop::collection::vec(prop::sample::select(vec!["team", "env", "cost"]), 0..3),
    )
        .prop_map(|(tokens, hops, delivery, attr, principal, tags)| {
            let mut c = Context::new();
            if let Some(t) = tokens {
                c.set("ec2:MetadataHttpTokens", vec![t.into()]);
            }
            if let Some(h) = hops {
                c.set("ec2:MetadataHttpPutResponseHopLimit", vec![h.to_string()]);
            }
            if let Some(d) = delivery {
                c.set("ec2:RoleDelivery", vec![d.into()]);
            }
            if let Some(a) = attr {
                c.set("ec2:Attribute/HttpTokens", vec![a.into()]);
            }
            c.set("aws:PrincipalArn", vec![principal.into()]);
            if !tags.is_empty() {
                c.set(
                    "aws:TagKeys",
                    tags.into_iter().map(str::to_string).collect(),
                );
            }
            c
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn an_explicit_deny_is_never_overridden(
        identity in prop::collection::vec(stmt(), 1..6),
        scp_root in prop::collection::vec(stmt(), 0..4),
        scp_ou in prop::collection::vec(stmt(), 0..4),
        boundary in prop::option::of(prop::collection::vec(stmt(), 1..4)),
        session in prop::option::of(prop::collection::vec(stmt(), 1..4)),
        management in any::<bool>(),
        action in prop::sample::select(ACTIONS.to_vec()),
        resources in prop::collection::vec(prop::sample::select(RESOURCES.to_vec()), 1..4),
        ctx in context(),
    ) {
        let (id, root, ou) = (policy(&identity), policy(&scp_root), policy(&scp_ou));
        let b = boundary.as_deref().map(policy);
        let s = session.as_deref().map(policy);
        let set = PolicySet {
            identity: vec![&id],
            scp_levels: vec![vec![&root], vec![&ou]],
            boundary: b.as_ref(),
            session: s.as_ref(),
            management_account: management,
        };
        let checks: Vec<Check<'_>> = resources
            .iter()
            .map(|r| Check { action, resource: r, context: &ctx })
            .collect();
        let d = decide_all(&set, &checks);
        // Every Deny statement of every policy, asked alone about every resource. (The
        // management account is exempt from SCPs, so its SCP denies do not count.)
        let mut denies: Vec<&Stmt> = identity.iter().collect();
        if !management {
            denies.extend(scp_root.iter().chain(&scp_ou));
        }
        denies.extend(boundary.iter().flatten());
        denies.extend(session.iter().flatten());
        for st in denies.into_iter().filter(|s| s.deny) {
            let alone = policy(std::slice::from_ref(st));
            let one = PolicySet { identity: vec![&alone], ..Default::default() };
            if decide_all(&one, &checks).explicit_deny() {
                prop_assert!(!d.allowed(), "{} denies, yet allowed", st.json());
                prop_assert!(d.explicit_deny(), "{} denies, yet not an explicit deny", st.json());
            }
        }
        // And an allow needs no deny at all among the statements that apply.
        if d.allowed() {
            prop_assert!(d.matched.iter().all(|m| m.effect != iam::policy::Effect::Deny));
        }
    }
}
