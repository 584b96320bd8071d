//! The authorization decision (IAM User Guide, "Policy evaluation logic"; spec iam.md §4.1):
//! any matching Deny in any policy is an explicit deny; otherwise every level of SCPs (unless
//! the management account), the identity policies, and a permissions boundary or session
//! policy when present must each contain a matching Allow; otherwise an implicit deny.
//!
//! - this module: what is decided ([`PolicySet`], [`Check`]) and the decision itself
//!   ([`decide`], [`decide_all`]).
//! - `decision`: the [`Decision`], its [`Outcome`] and the statements that decided it, and
//!   IAM's wording of a denial ([`Decision::reason`]).
//! - `matching`: which statements of a policy apply to a check (action, resource with policy
//!   variables, conditions).

mod decision;
mod matching;
#[cfg(test)]
mod tests;

pub use decision::{Decision, Kind, Matched, Outcome};

use crate::condition::Context;
use crate::policy::{Effect, Policy};
use matching::matching;

/// The policies that apply to a principal.
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    pub identity: Vec<&'a Policy>,
    /// One entry per level of the organization (root, OUs, account), each needing an Allow.
    pub scp_levels: Vec<Vec<&'a Policy>>,
    pub boundary: Option<&'a Policy>,
    pub session: Option<&'a Policy>,
    /// The management account is not subject to SCPs.
    pub management_account: bool,
}

/// One authorization check: an action on one resource, with its context.
#[derive(Debug, Clone)]
pub struct Check<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a Context,
}

/// Decide one check.
pub fn decide(set: &PolicySet<'_>, check: &Check<'_>) -> Decision {
    let mut all = matching(&set.identity, Kind::Identity, check);
    let scp_matches: Vec<Vec<Matched>> = set
        .scp_levels
        .iter()
        .map(|level| matching(level, Kind::Scp, check))
        .collect();
    if !set.management_account {
        all.extend(scp_matches.iter().flatten().cloned());
    }
    let boundary = set.boundary.map(|b| matching(&[b], Kind::Boundary, check));
    let session = set.session.map(|s| matching(&[s], Kind::Session, check));
    all.extend(boundary.iter().flatten().cloned());
    all.extend(session.iter().flatten().cloned());
    let decision = |outcome: Outcome, matched: Vec<Matched>| Decision {
        outcome,
        action: check.action.to_string(),
        resource: check.resource.to_string(),
        matched,
    };
    let denies: Vec<Matched> = all
        .iter()
        .filter(|m| m.effect == Effect::Deny)
        .cloned()
        .collect();
    if let Some(first) = denies.first() {
        return decision(Outcome::ExplicitDeny(first.kind), denies);
    }
    let allows = |ms: &[Matched]| ms.iter().any(|m| m.effect == Effect::Allow);
    if !set.management_account && scp_matches.iter().any(|level| !allows(level)) {
        return decision(Outcome::NoAllow(Kind::Scp), vec![]);
    }
    let identity: Vec<Matched> = all
        .iter()
        .filter(|m| m.kind == Kind::Identity)
        .cloned()
        .collect();
    if !allows(&identity) {
        return decision(Outcome::NoAllow(Kind::Identity), vec![]);
    }
    if boundary.as_ref().is_some_and(|b| !allows(b)) {
        return decision(Outcome::NoAllow(Kind::Boundary), vec![]);
    }
    if session.as_ref().is_some_and(|s| !allows(s)) {
        return decision(Outcome::NoAllow(Kind::Session), vec![]);
    }
    decision(
        Outcome::Allowed,
        all.into_iter()
            .filter(|m| m.effect == Effect::Allow)
            .collect(),
    )
}

/// Decide a request that touches several resources: allowed only if every check is.
pub fn decide_all(set: &PolicySet<'_>, checks: &[Check<'_>]) -> Decision {
    let mut last = None;
    for c in checks {
        let d = decide(set, c);
        if !d.allowed() {
            return d;
        }
        last = Some(d);
    }
    last.unwrap_or(Decision {
        outcome: Outcome::NoAllow(Kind::Identity),
        action: String::new(),
        resource: String::new(),
        matched: vec![],
    })
}
