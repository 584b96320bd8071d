//! A handler's answer before it is encoded: a JSON value keyed by the model's member names,
//! or, for the answers that list instances (a DescribeInstances page, a launch of up to
//! thousands), a structure whose long list is made item by item as the encoder reaches it
//! (`xml::encode_output`), so that no page's whole document is ever built: only one item's
//! value lives at a time beside the text written so far.

use super::xml::{EncodeError, Fields};
use serde_json::Value;

pub enum Output {
    /// A whole value, encoded as `xml::encode` encodes it.
    Value(Value),
    /// A structure whose members, by the model's member names, are themselves outputs.
    Struct(Vec<(&'static str, Output)>),
    /// A list whose items are made one at a time, when the encoder writes them.
    Items(Box<dyn Iterator<Item = Output> + Send>),
    /// A structure that writes its members straight to XML text: the items listed by the
    /// thousand (instances), whose values would cost more to build than their text.
    Written(Box<dyn Written>),
}

/// A structure written straight to text along the model (`xml::Fields`).
pub trait Written: Send {
    /// Write the structure's members, by their model names, in the model's order.
    fn write(&self, fields: &mut Fields<'_>) -> Result<(), EncodeError>;
    /// The same structure as a value, as `xml::encode` takes it.
    fn value(&self) -> Value;
}

impl Output {
    /// A list made of `items`, each turned into its output only when it is written.
    pub fn items<T, I, F>(items: I, each: F) -> Output
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
        F: FnMut(T) -> Output + Send + 'static,
    {
        Output::Items(Box::new(items.into_iter().map(each)))
    }

    /// The whole value this output stands for, every list made at once (what the encoder
    /// avoids; for tests and the callers that read the answer rather than send it).
    pub fn into_value(self) -> Value {
        match self {
            Output::Value(v) => v,
            Output::Struct(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.into_value()))
                    .collect(),
            ),
            Output::Items(items) => Value::Array(items.map(Output::into_value).collect()),
            Output::Written(w) => w.value(),
        }
    }
}

impl From<Value> for Output {
    fn from(v: Value) -> Output {
        Output::Value(v)
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Value(v) => write!(f, "Value({v})"),
            Output::Struct(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (k, v)))
                .finish(),
            Output::Items(_) => f.write_str("Items(…)"),
            Output::Written(w) => write!(f, "Written({})", w.value()),
        }
    }
}
