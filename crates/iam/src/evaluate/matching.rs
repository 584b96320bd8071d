//! Which statements of a policy apply to one check: the action (case-insensitive), the
//! resource (policy variables resolved in 2012-10-17 documents), and every condition.

use super::{Check, Kind, Matched};
use crate::condition::{substitute, Context};
use crate::glob;
use crate::policy::{Matcher, Policy, Statement};

fn action_matches(m: &Matcher, action: &str) -> bool {
    let hit = m.patterns.iter().any(|p| glob::matches(p, action, true));
    hit != m.negated
}

fn resource_matches(m: &Matcher, resource: &str, ctx: &Context, variables: bool) -> bool {
    let hit = m.patterns.iter().any(|p| {
        let pattern = if variables {
            substitute(p, ctx)
        } else {
            p.as_str().into()
        };
        glob::matches(&pattern, resource, false)
    });
    hit != m.negated
}

fn statement_applies(s: &Statement, check: &Check<'_>) -> bool {
    action_matches(&s.action, check.action)
        && resource_matches(&s.resource, check.resource, check.context, s.variables)
        && s.conditions
            .iter()
            .all(|c| c.holds_with(check.context, s.variables))
}

pub(super) fn matching(policies: &[&Policy], kind: Kind, check: &Check<'_>) -> Vec<Matched> {
    policies
        .iter()
        .flat_map(|p| p.statements.iter())
        .filter(|s| statement_applies(s, check))
        .map(|s| Matched {
            kind,
            sid: s.sid.clone(),
            effect: s.effect,
            statement: s.clone(),
        })
        .collect()
}
