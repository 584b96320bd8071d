//! The EC2 flavour of the Query protocol, decoded against the operation's input shape.
//!
//! Hand-written because no crate decodes AWS Query: `serde_urlencoded` and `serde_qs` know
//! neither EC2's flattened 1-based lists (`Filter.2.Value.1`) nor botocore's rules for wire
//! names. Keys are first split on `.` into a tree, then the tree is walked along the model's
//! input shape; whatever the walk does not consume is an `UnknownParameter`. The result is a
//! JSON value keyed by the model's member names, which handlers deserialize into typed
//! requests.

use super::shapes::{model, Member, Scalar, Shape};
use model::Ec2Error;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

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

/// Decoded form pairs, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parse `application/x-www-form-urlencoded` bytes (a POST body or a query string).
    /// Names and values must be UTF-8 once percent-decoded; otherwise the request is a
    /// `MalformedQueryString` (rather than silently altered, as a lossy decoder would).
    pub fn parse(bytes: &[u8]) -> Result<Params, Ec2Error> {
        let mut pairs = Vec::new();
        for part in bytes.split(|b| *b == b'&') {
            if part.is_empty() {
                continue;
            }
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            pairs.push((decode_component(k)?, decode_component(v)?));
        }
        Ok(Params { pairs })
    }

    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

fn decode_component(raw: &[u8]) -> Result<String, Ec2Error> {
    let plus: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    String::from_utf8(bytes).map_err(|_| {
        Ec2Error::MalformedQueryString(format!(
            "The request contains a parameter that is not valid UTF-8: {}",
            String::from_utf8_lossy(raw)
        ))
    })
}

#[derive(Debug, Default)]
struct Node {
    /// The full key this node stands for, for error messages.
    path: String,
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

fn tree(params: &Params) -> Result<Node, Ec2Error> {
    let mut root = Node::default();
    for (key, value) in &params.pairs {
        if COMMON.contains(&key.as_str()) {
            continue;
        }
        let mut node = &mut root;
        let mut path = String::new();
        for seg in key.split('.') {
            if seg.is_empty() {
                return Err(Ec2Error::UnknownParameter(key.clone()));
            }
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(seg);
            node = node
                .children
                .entry(seg.to_string())
                .or_insert_with(|| Node {
                    path: path.clone(),
                    ..Default::default()
                });
        }
        // The first occurrence of a key wins.
        if node.value.is_none() {
            node.value = Some(value.clone());
        }
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

/// Decode the parameters of `operation` into a JSON object keyed by member names.
pub fn decode(operation: &str, params: &Params) -> Result<Value, Ec2Error> {
    let m = model();
    let mut root = tree(params)?;
    let Some(input) = m.input(operation) else {
        return match root.children.values().next() {
            Some(n) => Err(first_unknown(n)),
            None => Ok(Value::Object(Map::new())),
        };
    };
    let value = structure(input, &mut root, true)?;
    Ok(value)
}

fn structure(shape_name: &str, node: &mut Node, top: bool) -> Result<Value, Ec2Error> {
    let Some(Shape::Structure { members, required }) = model().shape(shape_name) else {
        return Ok(Value::Null);
    };
    if let (Some(_), false) = (&node.value, top) {
        return Err(Ec2Error::UnknownParameter(node.path.clone()));
    }
    let mut out = Map::new();
    for m in members {
        let wire = m.wire_name();
        if let Some(mut child) = node.children.remove(&wire) {
            let v = value(m, &mut child)?;
            if !v.is_null() {
                out.insert(m.name.clone(), v);
            }
        }
    }
    if let Some(extra) = node.children.values().next() {
        return Err(first_unknown(extra));
    }
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
                .map(Member::wire_name)
                .unwrap_or_else(|| r.clone());
            let name = if top {
                wire
            } else {
                format!("{}.{wire}", node.path)
            };
            return Err(Ec2Error::MissingParameter(name));
        }
    }
    Ok(Value::Object(out))
}

fn value(member: &Member, node: &mut Node) -> Result<Value, Ec2Error> {
    match model().shape(&member.shape) {
        Some(Shape::Structure { .. }) => structure(&member.shape, node, false),
        Some(Shape::List { member: item }) => list(item, node),
        Some(Shape::Map) => Err(first_unknown(node)),
        Some(Shape::Scalar(kind)) => scalar(*kind, node),
        None => Err(first_unknown(node)),
    }
}

fn list(item: &Member, node: &mut Node) -> Result<Value, Ec2Error> {
    if node.value.is_some() {
        return Err(Ec2Error::UnknownParameter(node.path.clone()));
    }
    let mut items: Vec<(u64, Node)> = Vec::new();
    for (k, child) in std::mem::take(&mut node.children) {
        match k.parse::<u64>() {
            Ok(n) if n >= 1 && !k.starts_with('0') => items.push((n, child)),
            _ => return Err(first_unknown(&child)),
        }
    }
    items.sort_by_key(|(n, _)| *n);
    let mut out = Vec::with_capacity(items.len());
    for (_, mut child) in items {
        let v = value(item, &mut child)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(Value::Array(out))
}

fn scalar(kind: Scalar, node: &mut Node) -> Result<Value, Ec2Error> {
    if let Some(child) = node.children.values().next() {
        return Err(first_unknown(child));
    }
    let Some(raw) = node.value.take() else {
        return Ok(Value::Null);
    };
    let name = node.path.as_str();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Params {
        Params::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn form_encoding() {
        let q = p("A=b+c&D=%41%2B&E&F=");
        assert_eq!(q.get("A"), Some("b c"));
        assert_eq!(q.get("D"), Some("A+"));
        assert_eq!(q.get("E"), Some(""));
        assert!(matches!(
            Params::parse(b"A=%FF%FE"),
            Err(Ec2Error::MalformedQueryString(_))
        ));
        assert!(matches!(
            Params::parse(b"A=\xff"),
            Err(Ec2Error::MalformedQueryString(_))
        ));
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
        }
    }
}
