//! Query parameters decoded against the operation's input shape: EC2's flavour of the
//! protocol and the plain one of IAM and STS ([`Protocol`]), one walk for both.
//!
//! Hand-written because no crate decodes AWS Query: `serde_urlencoded` and `serde_qs` know
//! neither EC2's flattened 1-based lists (`Filter.2.Value.1`), the plain protocol's
//! `Name.member.N`, nor botocore's rules for wire names. Keys are first split on `.` into a
//! tree, then the tree is walked along the model's input shape; whatever the walk does not
//! consume is an `UnknownParameter`. The result is a JSON value keyed by the model's member
//! names, which each dialect deserializes once into its typed request. Scalars are read as
//! each protocol reads them ([`scalar`]); the tests are in `tests.rs`.
//!
//! Decoding runs before authentication is complete and before authorization, so any caller
//! reaches it: it is bounded in everything an input can make it spend (`model::limits`). The
//! number of parameters is checked before any is decoded, and a name too long or too deep to
//! be one the model knows is refused before the tree grows, so the tree is as shallow as the
//! model (no deep recursion, not even when it is dropped) and the work is linear in the input.
//! EC2's own limits on filters and ids are checked on the decoded input, before the action's
//! handler, the store or IAM see it.

pub use super::params::Params;
use super::shapes::{model, Member, Model, Scalar, Shape};
use model::{limits, Ec2Error};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

pub(crate) mod scalar;
pub use scalar::Integer;
use scalar::{ec2_scalar, query_scalar};

/// Parameters every request may carry that are not members of the operation's input: the
/// action and version, and the authentication parameters of SigV4 (and SigV2).
const COMMON: &[&str] = &[
    "Action",
    "Version",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "Timestamp",
    "Expires",
];

/// How a dialect's parameters are laid out and how strictly they are read. The walk is the
/// same; these are the differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// EC2's flavour: lists as `Name.N`, wire names as botocore's EC2 serializer computes
    /// them, and every mistake refused: an unknown or repeated parameter, a missing required
    /// member, a value of the wrong type (`UnknownParameter`, `MissingParameter`,
    /// `InvalidParameterValue`).
    Ec2,
    /// The plain Query protocol of IAM and STS: lists as `Name.member.N` (items counted from
    /// 1 up to the first one missing), wire names the members' own. Read as AWS's Query
    /// services read it, leniently: a parameter the operation does not take is ignored, a
    /// repeated one is its first value, and whether a required member is there is the
    /// dialect's typed input's business (IAM checks them in its own order, some only once
    /// the resource is found). A value that is not of its member's type is handed on as its
    /// text (see [`Integer`]) for the dialect to refuse in its own words and order.
    Query,
}

impl Protocol {
    /// The name of `member` in a request: EC2's serializer uses `queryName`, else the
    /// capitalised `locationName`, else the member name; the plain Query protocol
    /// `locationName`, else the member name.
    fn wire_name(self, member: &Member) -> String {
        match self {
            Protocol::Ec2 => member.wire_name(),
            Protocol::Query => member
                .location_name
                .clone()
                .unwrap_or_else(|| member.name.clone()),
        }
    }

    fn strict(self) -> bool {
        self == Protocol::Ec2
    }
}

#[derive(Debug, Default)]
struct Node {
    /// The full key this node stands for, for error messages.
    path: String,
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

fn tree(params: &Params, protocol: Protocol) -> Result<Node, Ec2Error> {
    let strict = protocol.strict();
    if strict {
        limits::check_parameter_count(params.pairs().len())?;
    }
    let mut seen = HashSet::with_capacity(params.pairs().len());
    let mut root = Node::default();
    'pairs: for (key, value) in params.pairs() {
        // A parameter given twice is refused rather than one of its values silently picked
        // (spec wave2.md §3.3, recommended; EC2's answer is UNCONFIRMED). The Query
        // protocol reads the first.
        if !seen.insert(key.as_str()) {
            if !strict {
                continue;
            }
            return Err(Ec2Error::InvalidParameterValue(format!(
                "The parameter {} is given more than once.",
                limits::shortened(key)
            )));
        }
        if COMMON.contains(&key.as_str()) {
            continue;
        }
        // A name too long or too deep for the model is one it does not know.
        match limits::check_name(key) {
            Err(e) if strict => return Err(e),
            Err(_) => continue,
            Ok(()) => {}
        }
        let mut node = &mut root;
        let mut end = 0;
        for seg in key.split('.') {
            if seg.is_empty() {
                if strict {
                    return Err(Ec2Error::UnknownParameter(key.clone()));
                }
                continue 'pairs;
            }
            end += seg.len();
            let path = &key[..end];
            end += 1;
            node = node
                .children
                .entry(seg.to_string())
                .or_insert_with(|| Node {
                    path: path.to_string(),
                    ..Default::default()
                });
        }
        node.value = Some(value.clone());
    }
    Ok(root)
}

fn first_unknown(node: &Node) -> Ec2Error {
    // The deepest key under this node names the parameter the caller sent.
    let mut n = node;
    while n.value.is_none() {
        match n.children.values().next() {
            Some(c) => n = c,
            None => break,
        }
    }
    Ec2Error::UnknownParameter(n.path.clone())
}

/// Decode the parameters of the EC2 `operation` into a JSON object keyed by member names.
pub fn decode(operation: &str, params: &Params) -> Result<Value, Ec2Error> {
    let m = model();
    let mut root = tree(params, Protocol::Ec2)?;
    let Some(input) = m.input(operation) else {
        return match root.children.values().next() {
            Some(n) => Err(first_unknown(n)),
            None => Ok(Value::Object(Map::new())),
        };
    };
    let value = Walk::ec2().structure(input, &mut root, true)?;
    check_limits(input, &value)?;
    Ok(value)
}

/// Decode the parameters of `operation` of a plain Query dialect (`shapes::iam()`,
/// `shapes::sts()`) into a JSON object keyed by member names: an empty object for an
/// operation the model does not have. Never refuses (see [`Protocol::Query`]).
pub fn decode_query(model: &'static Model, operation: &str, params: &Params) -> Value {
    let walk = Walk {
        model,
        protocol: Protocol::Query,
    };
    let decoded = match (model.input(operation), tree(params, Protocol::Query)) {
        (Some(input), Ok(mut root)) => walk.structure(input, &mut root, true),
        _ => Ok(Value::Null),
    };
    match decoded {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::Object(Map::new()),
    }
}

/// EC2's limits on the decoded input: the filter values of `Filters`, and the length of every
/// top-level id list (`InstanceIds`, `ImageIds`, …).
fn check_limits(input: &str, value: &Value) -> Result<(), Ec2Error> {
    let Some(Shape::Structure { members, .. }) = model().shape(input) else {
        return Ok(());
    };
    for m in members {
        let Some(Value::Array(items)) = value.get(&m.name) else {
            continue;
        };
        if m.name == "Filters" {
            limits::check_filter_values(items.iter().map(|f| {
                f.get("Values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|v| v.as_str().map_or(0, |s| s.chars().count()))
            }))?;
        } else if m.name.ends_with("Ids") {
            limits::check_id_count(&m.wire_name(), items.len())?;
        }
    }
    Ok(())
}

/// One walk of the parameter tree along a model's shapes, in a protocol.
struct Walk {
    model: &'static Model,
    protocol: Protocol,
}

impl Walk {
    fn ec2() -> Walk {
        Walk {
            model: model(),
            protocol: Protocol::Ec2,
        }
    }

    /// What the caller sent under `node` that the model has no place for: refused in EC2's
    /// protocol, ignored in the plain Query protocol.
    fn unknown(&self, node: &Node) -> Result<(), Ec2Error> {
        if self.protocol.strict() {
            Err(first_unknown(node))
        } else {
            Ok(())
        }
    }

    /// A value given to a node that takes none (a structure or a list named as a scalar).
    fn stray_value(&self, node: &Node) -> Result<(), Ec2Error> {
        match (&node.value, self.protocol.strict()) {
            (Some(_), true) => Err(Ec2Error::UnknownParameter(node.path.clone())),
            _ => Ok(()),
        }
    }

    fn structure(&self, shape_name: &str, node: &mut Node, top: bool) -> Result<Value, Ec2Error> {
        let Some(Shape::Structure { members, required }) = self.model.shape(shape_name) else {
            return Ok(Value::Null);
        };
        if !top {
            self.stray_value(node)?;
        }
        // The Query protocol: an item with no members given is no item (the list ends).
        if !self.protocol.strict() && !top && node.children.is_empty() {
            return Ok(Value::Null);
        }
        let mut out = Map::new();
        for m in members {
            let wire = self.protocol.wire_name(m);
            if let Some(mut child) = node.children.remove(&wire) {
                let v = self.value(m, &mut child)?;
                if !v.is_null() {
                    out.insert(m.name.clone(), v);
                }
            }
        }
        if let Some(extra) = node.children.values().next() {
            self.unknown(extra)?;
        }
        if self.protocol.strict() {
            self.check_required(members, required, &out, node, top)?;
        }
        Ok(Value::Object(out))
    }

    fn check_required(
        &self,
        members: &[Member],
        required: &[String],
        out: &Map<String, Value>,
        node: &Node,
        top: bool,
    ) -> Result<(), Ec2Error> {
        for r in required {
            let present = match out.get(r) {
                None | Some(Value::Null) => false,
                Some(Value::String(s)) => !s.is_empty(),
                Some(_) => true,
            };
            if !present {
                let wire = members
                    .iter()
                    .find(|m| &m.name == r)
                    .map(|m| self.protocol.wire_name(m))
                    .unwrap_or_else(|| r.clone());
                let name = if top {
                    wire
                } else {
                    format!("{}.{wire}", node.path)
                };
                return Err(Ec2Error::MissingParameter(name));
            }
        }
        Ok(())
    }

    fn value(&self, member: &Member, node: &mut Node) -> Result<Value, Ec2Error> {
        match self.model.shape(&member.shape) {
            Some(Shape::Structure { .. }) => self.structure(&member.shape, node, false),
            Some(Shape::List {
                member: item,
                flattened,
            }) => self.list(item, *flattened, node),
            Some(Shape::Scalar(kind)) => self.scalar(*kind, node),
            Some(Shape::Map {
                key,
                value,
                flattened,
            }) if self.protocol == Protocol::Query => self.map(key, value, *flattened, node),
            // No EC2 input imds serves has a map.
            Some(Shape::Map { .. }) | None => self.unknown(node).map(|()| Value::Null),
        }
    }

    fn list(&self, item: &Member, flattened: bool, node: &mut Node) -> Result<Value, Ec2Error> {
        self.stray_value(node)?;
        // The plain Query protocol wraps items in `member` (or the item's `locationName`).
        let mut wrapper;
        let items_node = match self.protocol {
            Protocol::Query if !flattened => {
                let name = item.location_name.as_deref().unwrap_or("member");
                match node.children.remove(name) {
                    Some(w) => {
                        wrapper = w;
                        &mut wrapper
                    }
                    None => return Ok(Value::Array(Vec::new())),
                }
            }
            _ => node,
        };
        let mut items: Vec<(u64, Node)> = Vec::new();
        for (k, child) in std::mem::take(&mut items_node.children) {
            match k.parse::<u64>() {
                Ok(n) if n >= 1 && !k.starts_with('0') => items.push((n, child)),
                _ => self.unknown(&child)?,
            }
        }
        items.sort_by_key(|(n, _)| *n);
        let mut out = Vec::with_capacity(items.len());
        for (i, (n, mut child)) in items.into_iter().enumerate() {
            // The Query protocol counts items from 1 up to the first one missing.
            if !self.protocol.strict() && n != i as u64 + 1 {
                break;
            }
            let v = self.value(item, &mut child)?;
            if !v.is_null() {
                out.push(v);
            } else if !self.protocol.strict() {
                break;
            }
        }
        Ok(Value::Array(out))
    }

    /// A map of the plain Query protocol: `Name.entry.N.key` / `.value` (or the members'
    /// `locationName`s), entries counted from 1 up to the first one without a key, as lists
    /// are. A JSON object keyed by the entries' keys.
    fn map(
        &self,
        key: &Member,
        value: &Member,
        flattened: bool,
        node: &mut Node,
    ) -> Result<Value, Ec2Error> {
        let mut entries = if flattened {
            std::mem::take(&mut node.children)
        } else {
            match node.children.remove("entry") {
                Some(e) => e.children,
                None => BTreeMap::new(),
            }
        };
        let key_name = key.location_name.as_deref().unwrap_or("key");
        let value_name = value.location_name.as_deref().unwrap_or("value");
        let mut out = Map::new();
        for n in 1.. {
            let Some(mut entry) = entries.remove(&n.to_string()) else {
                break;
            };
            let k = match entry.children.remove(key_name) {
                Some(mut k) => self.value(key, &mut k)?,
                None => Value::Null,
            };
            let Value::String(k) = k else {
                break;
            };
            let v = match entry.children.remove(value_name) {
                Some(mut v) => self.value(value, &mut v)?,
                None => Value::Null,
            };
            out.entry(k).or_insert(v);
        }
        Ok(Value::Object(out))
    }

    fn scalar(&self, kind: Scalar, node: &mut Node) -> Result<Value, Ec2Error> {
        if let Some(child) = node.children.values().next() {
            self.unknown(child)?;
        }
        let Some(raw) = node.value.take() else {
            return Ok(Value::Null);
        };
        match self.protocol {
            Protocol::Ec2 => ec2_scalar(kind, raw, &node.path),
            Protocol::Query => Ok(query_scalar(kind, raw)),
        }
    }
}

#[cfg(test)]
mod tests;
