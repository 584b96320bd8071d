//! `ec2:Attribute` and `ec2:Attribute/<Member>`: the attributes a request modifies (or reads),
//! as the request's typed input says which members it sets. The names are the model's
//! member names in the model's order, as they were when these keys were read off the decoded
//! parameters; each input that carries them says which of its members are set
//! ([`Members`], written with [`members!`]), and a test checks that it knows every member of
//! its operation's input shape, so a member the model adds cannot go missing silently.

use crate::protocol::shapes::{model, Shape};
use iam::condition::Context;

/// A typed input that says which members of its operation's input the request sets.
pub(crate) trait Members {
    /// The operation whose input shape (in botocore's model) lists the members, in order.
    const OPERATION: &'static str;
    /// Whether the request sets `member` (a member name of the input shape); `None` for a
    /// name this input does not know.
    fn is_set(&self, member: &str) -> Option<bool>;
}

/// Whether a typed member was sent. The decoder leaves a member out when it was not sent,
/// and never gives an empty list (a list is there only with an item).
pub(crate) trait Sent {
    fn sent(&self) -> bool;
}

impl<T> Sent for Option<T> {
    fn sent(&self) -> bool {
        self.is_some()
    }
}

impl<T> Sent for Vec<T> {
    fn sent(&self) -> bool {
        !self.is_empty()
    }
}

/// A required member: always sent (the decoder refuses the request otherwise).
impl Sent for String {
    fn sent(&self) -> bool {
        true
    }
}

/// `impl Members for T`: the operation, and each member name with the field that holds it.
macro_rules! members {
    ($input:ty, $operation:literal, { $($member:literal => $field:ident),* $(,)? }) => {
        impl $crate::authz::Members for $input {
            const OPERATION: &'static str = $operation;
            fn is_set(&self, member: &str) -> Option<bool> {
                use $crate::authz::Sent;
                match member {
                    $($member => Some(self.$field.sent()),)*
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use members;

/// The members the request sets, in the model's order, but the instance or image it names
/// and DryRun.
pub(crate) fn members_set<M: Members>(input: &M) -> Vec<String> {
    let m = model();
    let Some(Shape::Structure { members, .. }) = m.input(M::OPERATION).and_then(|s| m.shape(s))
    else {
        return Vec::new();
    };
    members
        .iter()
        .map(|m| m.name.as_str())
        .filter(|n| !matches!(*n, "InstanceId" | "DryRun" | "ImageId"))
        .filter(|n| input.is_set(n) == Some(true))
        .map(str::to_string)
        .collect()
}

/// `ec2:Attribute`: the attribute an `Attribute` parameter names, else the names of the
/// members the request sets.
pub(super) fn attribute_names<M: Members>(ctx: &mut Context, attribute: Option<&str>, input: &M) {
    if let Some(a) = attribute {
        ctx.set("ec2:Attribute", vec![a.to_string()]);
        return;
    }
    let names = members_set(input);
    if !names.is_empty() {
        ctx.set("ec2:Attribute", names);
    }
}

/// `ec2:Attribute/<Member>` for each of `values` the request sends (its value as sent), and
/// `ec2:Attribute` with the names of the members it sets.
pub(super) fn attribute_keys<M: Members>(
    ctx: &mut Context,
    values: &[(&str, Option<String>)],
    input: &M,
) {
    for (member, value) in values {
        if let Some(v) = value {
            ctx.set(&format!("ec2:Attribute/{member}"), vec![v.clone()]);
        }
    }
    attribute_names(ctx, None, input);
}

/// The members of `M`'s operation's input shape that `M` does not know (a test wants none).
#[cfg(test)]
pub(crate) fn unknown_members<M: Members + Default>() -> Vec<String> {
    let m = model();
    let Some(Shape::Structure { members, .. }) = m.input(M::OPERATION).and_then(|s| m.shape(s))
    else {
        return vec![format!("{}: no input shape", M::OPERATION)];
    };
    members
        .iter()
        .filter(|member| M::default().is_set(&member.name).is_none())
        .map(|member| member.name.clone())
        .collect()
}
