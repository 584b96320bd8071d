//! botocore's EC2, IAM and STS service models (the subsets imds serves, extracted by
//! `tools/extract_models.py`), each loaded once.
//!
//! A model decides wire names: which Query parameter names a request may carry and what
//! type each holds, and which XML element names, in which order, a response has. Handlers
//! never type an element name.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

static EC2_JSON: &str = include_str!("../../model/ec2-subset.json");
static IAM_JSON: &str = include_str!("../../model/iam-subset.json");
static STS_JSON: &str = include_str!("../../model/sts-subset.json");
static CLOUDWATCH_JSON: &str = include_str!("../../model/cloudwatch-subset.json");

#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub shape: String,
    pub location_name: Option<String>,
    pub query_name: Option<String>,
    /// Whether the member's shape is a scalar, resolved once when the model is loaded, so that
    /// answers written straight to text (`xml::fields`) check it without a lookup by name.
    pub scalar: bool,
}

impl Member {
    /// The name of this member in a Query request (botocore's EC2 serializer): `queryName`,
    /// else `locationName` with its first letter upper-cased, else the member name.
    pub fn wire_name(&self) -> String {
        if let Some(q) = &self.query_name {
            return q.clone();
        }
        match &self.location_name {
            Some(l) => {
                let mut c = l.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                    None => self.name.clone(),
                }
            }
            None => self.name.clone(),
        }
    }

    /// The element name of this member in a response.
    pub fn element_name(&self) -> &str {
        self.location_name.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    Integer,
    Boolean,
    Timestamp,
    Blob,
    Float,
}

#[derive(Debug, Clone)]
pub enum Shape {
    Structure {
        members: Vec<Member>,
        required: Vec<String>,
    },
    List {
        member: Box<Member>,
        /// Items as `Name.N` rather than `Name.member.N` in the plain Query protocol (EC2's
        /// lists are always flat).
        flattened: bool,
    },
    Map {
        key: Box<Member>,
        value: Box<Member>,
        /// Entries as `Name.N.key` rather than `Name.entry.N.key` in the plain Query protocol.
        flattened: bool,
    },
    Scalar(Scalar),
}

#[derive(Debug)]
pub struct Model {
    pub source: String,
    pub shapes: HashMap<String, Shape>,
    /// operation name → (input shape, output shape)
    pub operations: HashMap<String, (Option<String>, Option<String>)>,
}

fn member(name: &str, v: &Value) -> Member {
    Member {
        name: name.to_string(),
        shape: v["shape"].as_str().unwrap_or_default().to_string(),
        location_name: v
            .get("locationName")
            .and_then(Value::as_str)
            .map(str::to_string),
        query_name: v
            .get("queryName")
            .and_then(Value::as_str)
            .map(str::to_string),
        scalar: false,
    }
}

/// Fill in each member's `scalar` once every shape is known.
fn resolve_scalars(shapes: &mut HashMap<String, Shape>) {
    let scalars: std::collections::HashSet<String> = shapes
        .iter()
        .filter(|(_, s)| matches!(s, Shape::Scalar(_)))
        .map(|(n, _)| n.clone())
        .collect();
    for shape in shapes.values_mut() {
        let members: Vec<&mut Member> = match shape {
            Shape::Structure { members, .. } => members.iter_mut().collect(),
            Shape::List { member, .. } => vec![member.as_mut()],
            Shape::Map { key, value, .. } => vec![key.as_mut(), value.as_mut()],
            Shape::Scalar(_) => Vec::new(),
        };
        for m in members {
            m.scalar = scalars.contains(&m.shape);
        }
    }
}

pub(crate) fn load(json: &str) -> Model {
    let root: Value = serde_json::from_str(json).expect("embedded botocore model is valid JSON");
    let mut shapes = HashMap::new();
    if let Some(all) = root["shapes"].as_object() {
        for (name, s) in all {
            let shape = match s["type"].as_str().unwrap_or("string") {
                "structure" => Shape::Structure {
                    members: s["members"]
                        .as_object()
                        .map(|m| m.iter().map(|(n, v)| member(n, v)).collect())
                        .unwrap_or_default(),
                    required: s["required"]
                        .as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                },
                "list" => Shape::List {
                    member: Box::new(member("member", &s["member"])),
                    flattened: s["flattened"].as_bool().unwrap_or(false),
                },
                "map" => Shape::Map {
                    key: Box::new(member("key", &s["key"])),
                    value: Box::new(member("value", &s["value"])),
                    flattened: s["flattened"].as_bool().unwrap_or(false),
                },
                "integer" | "long" => Shape::Scalar(Scalar::Integer),
                "boolean" => Shape::Scalar(Scalar::Boolean),
                "timestamp" => Shape::Scalar(Scalar::Timestamp),
                "blob" => Shape::Scalar(Scalar::Blob),
                "float" | "double" => Shape::Scalar(Scalar::Float),
                _ => Shape::Scalar(Scalar::String),
            };
            shapes.insert(name.clone(), shape);
        }
    }
    resolve_scalars(&mut shapes);
    let mut operations = HashMap::new();
    if let Some(ops) = root["operations"].as_object() {
        for (name, op) in ops {
            let shape = |k: &str| {
                op.get(k)
                    .and_then(|i| i["shape"].as_str())
                    .map(str::to_string)
            };
            operations.insert(name.clone(), (shape("input"), shape("output")));
        }
    }
    Model {
        source: root["source"].as_str().unwrap_or_default().to_string(),
        shapes,
        operations,
    }
}

/// EC2's model (`Version=2016-11-15`).
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| load(EC2_JSON))
}

/// The IAM API's model (`Version=2010-05-08`).
pub fn iam() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| load(IAM_JSON))
}

/// STS's model (`Version=2011-06-15`).
pub fn sts() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| load(STS_JSON))
}

/// CloudWatch's model (`Version=2010-08-01`; its reads of metrics).
pub fn cloudwatch() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| load(CLOUDWATCH_JSON))
}

impl Model {
    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }
    /// Whether the structure `shape` has a member `name`.
    pub fn has_member(&self, shape: &str, name: &str) -> bool {
        matches!(self.shape(shape), Some(Shape::Structure { members, .. }) if members.iter().any(|m| m.name == name))
    }
    pub fn input(&self, op: &str) -> Option<&str> {
        self.operations.get(op).and_then(|(i, _)| i.as_deref())
    }
    pub fn output(&self, op: &str) -> Option<&str> {
        self.operations.get(op).and_then(|(_, o)| o.as_deref())
    }
}

/// Carry a value decoded along one shape over to another shape with the same member names
/// (a launch template's request data to its response data): members the target does not
/// have are dropped, recursively.
pub fn conform(value: &Value, target: &str) -> Value {
    match (model().shape(target), value) {
        (Some(Shape::Structure { members, .. }), Value::Object(obj)) => {
            let mut out = serde_json::Map::new();
            for m in members {
                if let Some(v) = obj.get(&m.name) {
                    out.insert(m.name.clone(), conform(v, &m.shape));
                }
            }
            Value::Object(out)
        }
        (Some(Shape::List { member, .. }), Value::Array(items)) => {
            Value::Array(items.iter().map(|i| conform(i, &member.shape)).collect())
        }
        (Some(Shape::Scalar(_)), v) if !v.is_object() && !v.is_array() => v.clone(),
        _ => Value::Null,
    }
}

/// A result that does not fit its output shape: a bug in a handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("result does not fit the model: {0}")]
pub struct Unfit(String);

impl Unfit {
    pub fn new(why: String) -> Unfit {
        Unfit(why)
    }
}

/// What [`Model::arrange`] makes of a map: an object holding only this key, the list of its
/// entries, which the Query writer writes as `<entry>` elements (not `<member>`s).
pub const MAP_ENTRIES: &str = "\u{0}entries";

impl Model {
    /// A handler's result (keyed by member names) made ready for the plain Query protocol's
    /// writer along `shape`: members in the model's order under their element names, nulls
    /// dropped. A key the model does not have is refused (SDKs would silently drop it).
    pub fn arrange(&self, shape: &str, v: &Value) -> Result<Value, Unfit> {
        match (self.shape(shape), v) {
            (_, Value::Null) => Ok(Value::Null),
            (Some(Shape::Structure { members, .. }), Value::Object(obj)) => {
                if let Some(k) = obj.keys().find(|k| !members.iter().any(|m| &m.name == *k)) {
                    return Err(Unfit(format!("{shape} has no member {k}")));
                }
                let mut out = serde_json::Map::new();
                for m in members {
                    match obj.get(&m.name) {
                        None | Some(Value::Null) => {}
                        Some(child) => {
                            let child = self.arrange(&m.shape, child)?;
                            out.insert(m.element_name().to_string(), child);
                        }
                    }
                }
                Ok(Value::Object(out))
            }
            (Some(Shape::List { member, .. }), Value::Array(items)) => items
                .iter()
                .map(|i| self.arrange(&member.shape, i))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            // A map: its entries as the Query protocol writes a map that is not flattened,
            // `<entry><key>…</key><value>…</value></entry>` (the writer's `entry` lists).
            (Some(Shape::Map { key, value, .. }), Value::Object(obj)) => {
                let entries = obj
                    .iter()
                    .map(|(k, v)| {
                        let mut e = serde_json::Map::new();
                        e.insert(
                            "key".into(),
                            self.arrange(&key.shape, &Value::String(k.clone()))?,
                        );
                        e.insert("value".into(), self.arrange(&value.shape, v)?);
                        Ok(Value::Object(e))
                    })
                    .collect::<Result<Vec<_>, Unfit>>()?;
                let mut out = serde_json::Map::new();
                out.insert(MAP_ENTRIES.into(), Value::Array(entries));
                Ok(Value::Object(out))
            }
            (Some(Shape::Scalar(_)), v) if !v.is_object() && !v.is_array() => Ok(v.clone()),
            _ => Err(Unfit(format!("{shape} cannot hold {v}"))),
        }
    }
}

/// For tests: hold a typed input to the model, as s3s holds its types to Smithy's. `fields`
/// are a serde struct's field names (see [`serde_fields`]); each must be a member of
/// `shape` in `model`.
#[cfg(test)]
pub(crate) fn assert_members(model: &Model, shape: &str, fields: &[&str]) {
    for f in fields {
        assert!(
            model.has_member(shape, f),
            "{shape} has no member {f} ({})",
            model.source
        );
    }
}

/// For tests: the field names a `Deserialize` struct asks for, in order (serde hands them
/// to `deserialize_struct`).
#[cfg(test)]
pub(crate) fn serde_fields<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
    use serde::de::{Error, Visitor};
    use serde::forward_to_deserialize_any;
    struct Probe<'a>(&'a mut Vec<&'static str>);
    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend(fields);
            Err(Self::Error::custom("probed"))
        }
        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields = Vec::new();
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_follow_botocore() {
        let m = model();
        let Some(Shape::Structure { members, .. }) = m.shape("DescribeInstancesRequest") else {
            panic!("no DescribeInstancesRequest")
        };
        let names: Vec<String> = members.iter().map(Member::wire_name).collect();
        for n in ["DryRun", "Filter", "InstanceId", "MaxResults", "NextToken"] {
            assert!(names.contains(&n.to_string()), "{n} in {names:?}");
        }
        assert!(m.source.starts_with("botocore"));
        assert!(iam().source.contains("data/iam/"));
        assert!(sts().source.contains("data/sts/"));
        assert_eq!(iam().input("CreateRole"), Some("CreateRoleRequest"));
        assert_eq!(sts().output("AssumeRole"), Some("AssumeRoleResponse"));
    }
}
