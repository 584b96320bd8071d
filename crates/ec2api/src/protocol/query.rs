//! Query parameters decoded against the operation's input shape: EC2's flavour of the
//! protocol and the plain one of IAM and STS ([`Protocol`]), one walk for both.
//!
//! Hand-written because no crate decodes AWS Query: `serde_urlencoded` and `serde_qs` know
//! neither EC2's flattened 1-based lists (`Filter.2.Value.1`), the plain protocol's
//! `Name.member.N`, nor botocore's rules for wire names. Keys are first split on `.` into a tree, then the tree is walked along the model's
//! input shape; whatever the walk does not consume is an `UnknownParameter`. The result is a
//! JSON value keyed by the model's member names, which handlers deserialize into typed
//! requests.
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
use serde_json::{Map, Number, Value};
use std::collections::{BTreeMap, HashSet};

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

/// An integer member as the plain Query protocol hands it on: the number, or the text the
/// caller sent when it is not the number's own spelling (`abc`, `+5`, `0900`), so that the
/// dialect can quote it and read it as it always has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum Integer {
    Number(i64),
    Text(String),
}

impl Integer {
    /// The value as the caller wrote it.
    pub fn text(&self) -> String {
        match self {
            Integer::Number(n) => n.to_string(),
            Integer::Text(t) => t.clone(),
        }
    }
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

/// A scalar of EC2's protocol: refused when it is not of its type.
fn ec2_scalar(kind: Scalar, raw: String, name: &str) -> Result<Value, Ec2Error> {
    Ok(match kind {
        Scalar::String | Scalar::Timestamp | Scalar::Blob => Value::String(raw),
        Scalar::Integer => match raw.trim().parse::<i64>() {
            Ok(n) => Value::Number(n.into()),
            Err(_) => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{raw}' for {name}. It must be an integer."
                )))
            }
        },
        Scalar::Float => match raw.trim().parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{raw}' for {name}. It must be a number."
                )))
            }
        },
        Scalar::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{raw}' for {name}. It must be a boolean (true or false)."
                )))
            }
        },
    })
}

/// A scalar of the plain Query protocol: typed when it is the type's own spelling, else its
/// text (see [`Integer`]).
fn query_scalar(kind: Scalar, raw: String) -> Value {
    match kind {
        Scalar::Integer => match raw.parse::<i64>() {
            Ok(n) if n.to_string() == raw => Value::Number(n.into()),
            _ => Value::String(raw),
        },
        Scalar::Boolean if raw == "true" || raw == "false" => Value::Bool(raw == "true"),
        _ => Value::String(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code_and_status;

    fn p(s: &str) -> Params {
        Params::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn flattened_lists_and_structures() {
        let v = decode(
            "DescribeInstances",
            &p("Action=DescribeInstances&Version=2016-11-15&InstanceId.2=i-b&InstanceId.1=i-a&Filter.1.Name=tag:Name&Filter.1.Value.1=x&Filter.1.Value.2=y&MaxResults=5"),
        )
        .unwrap();
        assert_eq!(v["InstanceIds"], serde_json::json!(["i-a", "i-b"]));
        assert_eq!(v["Filters"][0]["Name"], "tag:Name");
        assert_eq!(v["Filters"][0]["Values"], serde_json::json!(["x", "y"]));
        assert_eq!(v["MaxResults"], 5);
    }

    #[test]
    fn nested_structures() {
        let v = decode(
            "RunInstances",
            &p("MinCount=1&MaxCount=1&MetadataOptions.HttpTokens=required&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web"),
        )
        .unwrap();
        assert_eq!(v["MetadataOptions"]["HttpTokens"], "required");
        assert_eq!(v["TagSpecifications"][0]["Tags"][0]["Key"], "Name");
    }

    #[test]
    fn unknown_and_missing() {
        assert_eq!(
            decode(
                "ModifyInstanceMetadataOptions",
                &p("InstanceId=i-1&Foo=bar")
            ),
            Err(Ec2Error::UnknownParameter("Foo".into()))
        );
        assert_eq!(
            decode(
                "ModifyInstanceMetadataOptions",
                &p("InstanceId=i-1&HttpTokensEnforced=enabled")
            ),
            Err(Ec2Error::UnknownParameter("HttpTokensEnforced".into()))
        );
        assert_eq!(
            decode("ModifyInstanceMetadataOptions", &p("HttpTokens=required")),
            Err(Ec2Error::MissingParameter("InstanceId".into()))
        );
        assert_eq!(
            decode("ModifyInstanceMetadataOptions", &p("InstanceId=")),
            Err(Ec2Error::MissingParameter("InstanceId".into()))
        );
        assert!(matches!(
            decode("RunInstances", &p("MinCount=1&MaxCount=1&MetadataOptions.Bogus=1")),
            Err(Ec2Error::UnknownParameter(n)) if n == "MetadataOptions.Bogus"
        ));
        assert!(matches!(
            decode("DescribeInstances", &p("InstanceId.x=i-1")),
            Err(Ec2Error::UnknownParameter(_))
        ));
        assert!(matches!(
            decode("DescribeInstances", &p("InstanceId..1=i-1")),
            Err(Ec2Error::UnknownParameter(_))
        ));
    }

    #[test]
    fn types() {
        assert!(matches!(
            decode(
                "ModifyInstanceMetadataOptions",
                &p("InstanceId=i-1&HttpPutResponseHopLimit=abc")
            ),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        assert!(matches!(
            decode(
                "ModifyInstanceMetadataOptions",
                &p("InstanceId=i-1&DryRun=maybe")
            ),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        let v = decode(
            "ModifyInstanceMetadataOptions",
            &p("InstanceId=i-1&DryRun=true"),
        )
        .unwrap();
        assert_eq!(v["DryRun"], true);
    }

    /// Issue 10: a 30 KB name of 15,000 dotted segments overflowed a worker's stack (the
    /// tree was as deep as the name, and dropped recursively) and took memory quadratic in
    /// its depth. It is an unknown parameter, refused before the tree grows.
    #[test]
    fn deep_names_are_unknown_parameters_without_a_deep_tree() {
        let deep = vec!["a"; 15_000].join(".");
        for op in ["DescribeInstances", "RunInstances"] {
            match decode(op, &p(&format!("{deep}=1"))) {
                Err(Ec2Error::UnknownParameter(name)) => {
                    assert!(name.len() <= limits::MAX_NAME_LEN + 3, "{}", name.len())
                }
                other => panic!("{other:?}"),
            }
        }
        // Deep but short: still refused at the segment bound.
        let short_deep = vec!["a"; limits::MAX_NAME_SEGMENTS + 1].join(".");
        assert_eq!(
            tree(&p(&format!("{short_deep}=1")), Protocol::Ec2).err(),
            Some(Ec2Error::UnknownParameter(short_deep))
        );
        // What the tree holds is never deeper than the bound.
        let ok = vec!["a"; limits::MAX_NAME_SEGMENTS].join(".");
        let root = tree(&p(&format!("{ok}=1")), Protocol::Ec2).unwrap();
        let mut depth = 0;
        let mut n = &root;
        while let Some(c) = n.children.values().next() {
            depth += 1;
            n = c;
        }
        assert_eq!(depth, limits::MAX_NAME_SEGMENTS);
    }

    #[test]
    fn too_many_parameters_are_refused_before_decoding() {
        let body: String = (1..=limits::MAX_PARAMETERS + 1)
            .map(|i| format!("InstanceId.{i}=i-1&"))
            .collect();
        assert!(matches!(
            Params::parse(body.as_bytes()),
            Err(Ec2Error::InvalidParameterValue(m)) if m.contains("parameters")
        ));
        // Query string and body together count too.
        let half: String = (1..=limits::MAX_PARAMETERS / 2 + 1)
            .map(|i| format!("X{i}=1&"))
            .collect();
        let mut both = p(&half);
        both.extend(p(&half));
        assert!(matches!(
            decode("DescribeInstances", &both),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
    }

    /// spec wave2.md §3.3 (recommended): a repeated parameter is refused, never one of its
    /// values silently picked.
    #[test]
    fn repeated_parameters_are_refused() {
        for q in [
            "InstanceId=i-1&InstanceId=i-2",
            "InstanceId=i-1&HttpTokens=required&HttpTokens=optional",
            "Action=ModifyInstanceMetadataOptions&Action=RunInstances&InstanceId=i-1",
        ] {
            assert!(
                matches!(
                    decode("ModifyInstanceMetadataOptions", &p(q)),
                    Err(Ec2Error::InvalidParameterValue(m)) if m.contains("more than once")
                ),
                "{q}"
            );
        }
    }

    fn filter_query(values: &[usize], len: usize) -> String {
        let mut q = String::new();
        for (f, n) in values.iter().enumerate() {
            q.push_str(&format!("Filter.{}.Name=tag:Name&", f + 1));
            for v in 1..=*n {
                q.push_str(&format!("Filter.{}.Value.{v}={}&", f + 1, "x".repeat(len)));
            }
        }
        q
    }

    /// spec wave2.md §3.5 cases 39–41, 44: refused at decoding, before any query is built.
    #[test]
    fn ec2_limits_on_filters_and_ids() {
        let code = |r: Result<Value, Ec2Error>| r.map(|_| ()).map_err(|e| code_and_status(&e).1);
        let ops = ["DescribeInstances", "DescribeTags", "DescribeImages"];
        for op in ops {
            assert_eq!(code(decode(op, &p(&filter_query(&[200], 3)))), Ok(()));
            assert_eq!(
                code(decode(op, &p(&filter_query(&[201], 3)))),
                Err("FilterLimitExceeded")
            );
            assert_eq!(
                code(decode(op, &p(&filter_query(&[100, 101], 3)))),
                Err("FilterLimitExceeded")
            );
            assert_eq!(code(decode(op, &p(&filter_query(&[1], 255)))), Ok(()));
            assert_eq!(
                code(decode(op, &p(&filter_query(&[1], 256)))),
                Err("FilterLimitExceeded")
            );
        }
        let ids = |n: usize| -> String {
            (1..=n)
                .map(|i| format!("InstanceId.{i}=i-{i:017x}&"))
                .collect()
        };
        assert_eq!(code(decode("DescribeInstances", &p(&ids(1000)))), Ok(()));
        assert_eq!(
            code(decode("DescribeInstances", &p(&ids(1001)))),
            Err("InvalidParameterValue")
        );
    }

    fn iam(op: &str, q: &str) -> Value {
        decode_query(super::super::shapes::iam(), op, &p(q))
    }

    /// The plain Query protocol of IAM and STS: `Name.member.N` lists of values and of
    /// structures, read as IAM has always read them.
    #[test]
    fn plain_query_protocol() {
        let v = iam(
            "SimulateCustomPolicy",
            "Action=SimulateCustomPolicy&PolicyInputList.member.1=x&PolicyInputList.member.2=y&ContextEntries.member.1.ContextKeyName=k&ContextEntries.member.1.ContextKeyValues.member.1=v",
        );
        assert_eq!(v["PolicyInputList"], serde_json::json!(["x", "y"]));
        assert_eq!(
            v["ContextEntries"],
            serde_json::json!([{"ContextKeyName": "k", "ContextKeyValues": ["v"]}])
        );
        // Items are counted from 1 up to the first one missing.
        let v = iam(
            "SimulateCustomPolicy",
            "ActionNames.member.1=a&ActionNames.member.3=c&ActionNames.member.0=z",
        );
        assert_eq!(v["ActionNames"], serde_json::json!(["a"]));
        let v = iam("SimulateCustomPolicy", "ActionNames.member.2=b");
        assert_eq!(v["ActionNames"], serde_json::json!([]));
        // A structure item exists when one of its members is given.
        let v = iam(
            "CreateUser",
            "UserName=u&Tags.member.1.Key=k&Tags.member.2=x&Tags.member.3.Key=l",
        );
        assert_eq!(v["Tags"], serde_json::json!([{"Key": "k"}]));
    }

    /// IAM ignores what the operation does not take, reads a repeated parameter's first
    /// value, and leaves required members to the typed input; nothing is refused.
    #[test]
    fn plain_query_protocol_is_lenient() {
        let v = iam(
            "GetRole",
            "RoleName=a&RoleName=b&Bogus=1&RoleName.x=2&Tags.member.1.Key=k&..=&A..B=1",
        );
        assert_eq!(v, serde_json::json!({"RoleName": "a"}));
        assert_eq!(iam("GetRole", ""), serde_json::json!({}));
        assert_eq!(iam("NoSuchAction", "RoleName=a"), serde_json::json!({}));
        let deep = vec!["a"; 15_000].join(".");
        assert_eq!(
            iam("GetRole", &format!("{deep}=1&RoleName=r")),
            serde_json::json!({"RoleName": "r"})
        );
        // Empty is present (IAM's checks on the value come later).
        assert_eq!(
            iam("GetRole", "RoleName="),
            serde_json::json!({"RoleName": ""})
        );
    }

    /// An integer is a number when written as one; otherwise its text goes on for the
    /// dialect to quote.
    #[test]
    fn plain_query_integers() {
        let max = |q: &str| {
            let v = iam("CreateRole", q);
            serde_json::from_value::<Option<Integer>>(v["MaxSessionDuration"].clone()).unwrap()
        };
        assert_eq!(max("MaxSessionDuration=3600"), Some(Integer::Number(3600)));
        assert_eq!(max("MaxSessionDuration=-5"), Some(Integer::Number(-5)));
        for text in ["abc", "+3600", "03600", " 3600", "-0", ""] {
            let got = max(&format!("MaxSessionDuration={}", text.replace('+', "%2B")));
            assert_eq!(got, Some(Integer::Text(text.to_string())), "{text:?}");
            assert_eq!(got.unwrap().text(), text);
        }
        assert_eq!(max("RoleName=r"), None);
    }

    /// Maps of the plain Query protocol (no operation imds serves takes one yet).
    #[test]
    fn plain_query_maps() {
        let model: &'static Model = Box::leak(Box::new(super::super::shapes::load(
            r#"{"operations":{"Op":{"input":{"shape":"In"}}},"shapes":{
                "In":{"type":"structure","members":{"Attrs":{"shape":"M"},"Flat":{"shape":"F"}}},
                "M":{"type":"map","key":{"shape":"S"},"value":{"shape":"I"}},
                "F":{"type":"map","key":{"shape":"S","locationName":"Name"},"value":{"shape":"S","locationName":"Val"},"flattened":true},
                "S":{"type":"string"},"I":{"type":"integer"}}}"#,
        )));
        let v = decode_query(
            model,
            "Op",
            &p("Attrs.entry.1.key=a&Attrs.entry.1.value=1&Attrs.entry.2.key=b&Attrs.entry.2.value=x&Attrs.entry.4.key=d&Flat.1.Name=n&Flat.1.Val=v"),
        );
        assert_eq!(
            v,
            serde_json::json!({"Attrs": {"a": 1, "b": "x"}, "Flat": {"n": "v"}})
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678_u64;
        let alphabet = b"ab.=&%1Z_-0\xff\x00InstanceIdFilterValue";
        for _ in 0..2000 {
            let len = (seed % 64) as usize;
            let mut s = Vec::new();
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            for op in [
                "DescribeInstances",
                "RunInstances",
                "ModifyInstanceMetadataOptions",
            ] {
                if let Ok(params) = Params::parse(&s) {
                    let _ = decode(op, &params);
                }
            }
            if let Ok(params) = Params::parse(&s) {
                let _ = decode_query(super::super::shapes::iam(), "CreateRole", &params);
            }
        }
    }
}
