//! The outcome of an authorization check, the statements that decided it, and IAM's
//! wording of a denial.

use crate::policy::{Effect, Statement};

/// Where a policy comes from: it decides the wording of a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Identity,
    Scp,
    Boundary,
    Session,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Identity => "identity-based policy",
            Kind::Scp => "service control policy",
            Kind::Boundary => "permissions boundary",
            Kind::Session => "session policy",
        }
    }
}

/// A statement that applied to the check, and where it came from (the encoded authorization
/// message lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub kind: Kind,
    pub sid: Option<String>,
    pub effect: Effect,
    pub statement: Statement,
}

impl Eq for Statement {}

/// Allowed, or denied and by which kind of policy: explicitly, or for want of an Allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    ExplicitDeny(Kind),
    NoAllow(Kind),
}

/// What the evaluator decided, for the check that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The action and resource of the check that decided (the first denied one).
    pub action: String,
    pub resource: String,
    pub matched: Vec<Matched>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }
    pub fn explicit_deny(&self) -> bool {
        matches!(self.outcome, Outcome::ExplicitDeny(_))
    }
    /// IAM's phrasing of why (`with an explicit deny in a service control policy`, …).
    pub fn reason(&self) -> String {
        match self.outcome {
            Outcome::Allowed => String::new(),
            Outcome::ExplicitDeny(k) => {
                let article = if k == Kind::Identity { "an" } else { "a" };
                format!("with an explicit deny in {article} {}", k.name())
            }
            Outcome::NoAllow(k) => {
                format!("because no {} allows the {} action", k.name(), self.action)
            }
        }
    }
}
