//! Authorization of EC2 actions with `--iam-config` (spec iam.md §1, §2, §4): each operation's
//! checks read off its typed input, the decision from the `iam` evaluator, the refusal.
//!
//! - this module: [`Authorization`], one request's checks and their decision, made before the
//!   handler or, for the actions that write the instances they name, inside that write on
//!   the instances as it read them (`InWrite`);
//! - `checks`: which resources each operation is checked on, with which keys;
//! - `context`: the keys of a check (global, an existing instance's, request tags);
//! - `attributes`: `ec2:Attribute` and `ec2:Attribute/<Member>` from the members a request
//!   sets (`Members`);
//! - `denial`: how a refusal reads (the encoded authorization message).
//!
//! The policies come from [`crate::principals`]: an account root may do anything its SCPs
//! allow; users and role sessions have their identity policies (inline and attached), a
//! permissions boundary, a session policy, and their account's SCPs. The decision is made
//! from policies parsed when they were written, so a check costs microseconds.

mod attributes;
mod checks;
mod context;
mod denial;

#[cfg(test)]
pub(crate) use attributes::unknown_members;
pub(crate) use attributes::{members, Members, Sent};
pub use context::global_context;

use crate::actions::{Action, Request};
use crate::auth::Caller;
use crate::principals::Principals;
use checks::Check;
use iam::condition::Context;
use iam::evaluate::{decide_all, Check as PolicyCheck, Decision, PolicySet};
use model::Ec2Error;
use model::Instance;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One EC2 request's authorization: its checks, read off its typed input (RunInstances as
/// its launch template completes it), decided on the existing instances it names.
///
/// A launch that passes a role to its instance also needs `iam:PassRole` on that role (EC2
/// User Guide, "IAM roles for EC2": "the user launching the instance must have
/// iam:PassRole"), and so do AssociateIamInstanceProfile and
/// ReplaceIamInstanceProfileAssociation (EC2 User Guide, "Grant permissions to attach an IAM
/// role to an instance"). Tags put on what a create action creates need `ec2:CreateTags`.
pub struct Authorization {
    principals: Arc<Principals>,
    caller: Caller,
    action: Action,
    global: Context,
    checks: Vec<Check>,
    tagging: Vec<(String, Context)>,
    passed_role: Option<String>,
}

impl Authorization {
    pub fn new(
        principals: Arc<Principals>,
        caller: Caller,
        source_ip: Option<std::net::IpAddr>,
        request: &Request,
    ) -> Authorization {
        let global = global_context(&caller, source_ip);
        Authorization {
            checks: checks::checks(request, &caller, &global),
            tagging: checks::tag_on_create_checks(request, &caller, &global),
            passed_role: passed_role(&principals, &caller, request),
            action: request.action(),
            principals,
            caller,
            global,
        }
    }

    /// The ids of the existing instances the checks name.
    pub(crate) fn instance_ids(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter_map(|c| match &c.resource {
                checks::Resource::Instance(id) => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    /// The decision, given the existing instances the request names (as the store read
    /// them): the action's checks, then tag-on-create, then `iam:PassRole`.
    pub fn decide(&self, instances: &[Instance]) -> Result<(), Ec2Error> {
        let (action, caller) = (self.action.name(), &self.caller);
        let name = format!("ec2:{action}");
        let list: Vec<(String, Context)> = self
            .checks
            .iter()
            .map(|c| c.resolve(caller, instances))
            .collect();
        let d = decide_for(&self.principals, caller, &name, &list);
        if !d.allowed() {
            let context = list.iter().find(|(r, _)| *r == d.resource).map(|(_, c)| c);
            return Err(denial::denial(action, caller, &d, context));
        }
        // Tag-on-create: checked after the action itself. UNCONFIRMED: the order of this check
        // and `iam:PassRole` when both would deny.
        if !self.tagging.is_empty() {
            let d = decide_for(&self.principals, caller, "ec2:CreateTags", &self.tagging);
            if !d.allowed() {
                let context = self
                    .tagging
                    .iter()
                    .find(|(r, _)| *r == d.resource)
                    .map(|(_, c)| c);
                return Err(denial::denial(action, caller, &d, context));
            }
        }
        if let Some(role) = &self.passed_role {
            // Passed to EC2 (IAM User Guide, "Grant a user permissions to pass a role to an
            // AWS service": its example conditions on this key and value).
            let mut context = self.global.clone();
            context.set("iam:PassedToService", vec!["ec2.amazonaws.com".into()]);
            let pass = [(role.clone(), context)];
            let d = decide_for(&self.principals, caller, "iam:PassRole", &pass);
            if !d.allowed() {
                return Err(denial::denial(action, caller, &d, Some(&pass[0].1)));
            }
        }
        Ok(())
    }
}

/// The ARN of the role a launch (or an association, or its replacement) passes to its
/// instance through an instance profile.
fn passed_role(principals: &Principals, caller: &Caller, request: &Request) -> Option<String> {
    let p = match request {
        Request::RunInstances(r) => r.iam_instance_profile.as_ref(),
        Request::AssociateIamInstanceProfile(r) => r.iam_instance_profile.as_ref(),
        Request::ReplaceIamInstanceProfileAssociation(r) => r.iam_instance_profile.as_ref(),
        _ => None,
    }?;
    let registry = principals.registry();
    let account = registry.account(&caller.account)?;
    let role = account
        .profile_by_ref(p.arn.as_deref(), p.name.as_deref())?
        .roles
        .first()?;
    account.roles.get(role).map(|r| account.role_arn(r))
}

/// A request's authorization deferred into the write that reads the instances it names, so
/// that it is decided on the instances as that write read them: the handler's write calls
/// the [`InWrite::gate`] before it checks for unknown ids (a denied caller naming an unknown
/// instance is refused, not told it does not exist).
pub(crate) struct InWrite {
    authorization: Authorization,
    ran: AtomicBool,
}

impl InWrite {
    pub(crate) fn new(authorization: Authorization) -> Arc<InWrite> {
        Arc::new(InWrite {
            authorization,
            ran: AtomicBool::new(false),
        })
    }

    /// The decision on `instances`; remembered as made.
    pub(crate) fn decide(&self, instances: &[Instance]) -> Result<(), Ec2Error> {
        self.ran.store(true, Ordering::Relaxed);
        self.authorization.decide(instances)
    }

    /// Whether the handler asked for the decision (an answer without it would be a handler
    /// that skipped its authorization).
    pub(crate) fn decided(&self) -> bool {
        self.ran.load(Ordering::Relaxed)
    }
}

/// The decision for `caller` performing `action` (`ec2:RunInstances`, `sts:AssumeRole`, …) on
/// every resource of `checks`: explicit deny wins; SCPs (unless the management account),
/// identity policies, and a boundary or session policy when present must allow.
pub fn decide_for(
    principals: &Principals,
    caller: &Caller,
    action: &str,
    checks: &[(String, Context)],
) -> Decision {
    let registry = principals.registry();
    let mine = registry.policies_of(&caller.account, &caller.subject);
    let directory = principals.directory.as_deref();
    let set = PolicySet {
        identity: mine.identity.iter().map(|p| p.as_ref()).collect(),
        scp_levels: directory
            .map(|d| {
                d.scp_levels(&caller.account)
                    .iter()
                    .map(|level| level.iter().collect())
                    .collect()
            })
            .unwrap_or_default(),
        boundary: mine.boundary.as_deref(),
        session: caller.session_policy.as_deref(),
        management_account: directory.is_some_and(|d| d.is_management(&caller.account)),
    };
    let check_refs: Vec<PolicyCheck<'_>> = checks
        .iter()
        .map(|(r, c)| PolicyCheck {
            action,
            resource: r,
            context: c,
        })
        .collect();
    decide_all(&set, &check_refs)
}

/// Authorize `action` (`ec2:DescribeInstances`, …) on one existing instance, with its own
/// keys, outside an EC2 request: imds's admin routes about an instance (its loopback
/// metadata endpoint) ask what DescribeInstances on that instance would be allowed.
pub fn authorize_on_instance(
    principals: &Principals,
    action: &str,
    caller: &Caller,
    source_ip: Option<std::net::IpAddr>,
    instance: &Instance,
) -> Result<(), Ec2Error> {
    let mut ctx = global_context(caller, source_ip);
    context::instance_keys(&mut ctx, instance);
    let arn = model::Arn::instance(
        &instance.scope.region,
        &instance.scope.account,
        &instance.instance_id,
    )
    .to_string();
    let list = [(arn, ctx)];
    let d = decide_for(principals, caller, action, &list);
    if d.allowed() {
        return Ok(());
    }
    let short = action.strip_prefix("ec2:").unwrap_or(action);
    Err(denial::denial(short, caller, &d, Some(&list[0].1)))
}

#[cfg(test)]
mod tests;
