//! The XML encoder: the success envelope of an operation written along its output shape, and
//! the error envelope, from values the input shapes.
//!
//! Input: the first byte picks the operation; the second byte's low bit picks how the rest
//! becomes the JSON body: 0, a value generated along the operation's output shape (members
//! present or not, lists of 0–3 items, scalars of any text and number, and now and then a
//! value of the wrong type or an unknown key); 1, the rest parsed as JSON text. The error
//! envelope gets a code and a message from the same bytes.
//!
//! Oracle: whatever `encode` and `error` return parses as XML (the escaping promises that a
//! response always parses), with end tags matching.
#![no_main]

use ec2api::protocol::shapes::{model, Scalar, Shape};
use ec2api::protocol::xml::{encode, error};
use imds_fuzz::operations;
use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;
use serde_json::{Map, Number, Value};

const REQUEST_ID: &str = "59dbff89-35bd-4eac-99ed-be587EXAMPLE";
const MAX_DEPTH: usize = 24;

/// The input, consumed a byte or a slice at a time; zeros once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn text(&mut self) -> String {
        let n = usize::from(self.byte() % 32).min(self.0.len());
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(s).into_owned()
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, _| acc << 8 | u64::from(self.byte()))
    }
}

/// A value of any type, for the members given the wrong one.
fn stray(input: &mut Bytes<'_>) -> Value {
    match input.byte() % 6 {
        0 => Value::Null,
        1 => Value::Bool(true),
        2 => Value::from(input.u64() as i64),
        3 => Value::String(input.text()),
        4 => Value::Array(vec![Value::String(input.text())]),
        _ => {
            let mut o = Map::new();
            o.insert(input.text(), Value::Bool(false));
            Value::Object(o)
        }
    }
}

fn scalar(kind: Scalar, input: &mut Bytes<'_>) -> Value {
    match kind {
        Scalar::Boolean => Value::Bool(input.byte() & 1 == 1),
        Scalar::Integer => match input.byte() % 3 {
            0 => Value::from(input.u64() as i64),
            1 => Value::from(input.u64()),
            _ => Value::String(input.text()),
        },
        Scalar::Float => Number::from_f64(f64::from_bits(input.u64()))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Scalar::String | Scalar::Timestamp | Scalar::Blob => Value::String(input.text()),
    }
}

fn generate(shape_name: &str, input: &mut Bytes<'_>, depth: usize) -> Value {
    let choice = input.byte();
    if choice.is_multiple_of(29) {
        return stray(input);
    }
    match model().shape(shape_name) {
        Some(Shape::Structure { members, .. }) => {
            let mut o = Map::new();
            if depth < MAX_DEPTH {
                for m in members {
                    if input.byte() & 1 == 1 {
                        o.insert(m.name.clone(), generate(&m.shape, input, depth + 1));
                    }
                }
            }
            if choice % 31 == 1 {
                o.insert(input.text(), Value::Null);
            }
            Value::Object(o)
        }
        Some(Shape::List { member, .. }) if depth < MAX_DEPTH => {
            let n = input.byte() % 4;
            Value::Array(
                (0..n)
                    .map(|_| generate(&member.shape, input, depth + 1))
                    .collect(),
            )
        }
        Some(Shape::List { .. }) => Value::Array(vec![]),
        Some(Shape::Map { .. }) => Value::Object(Map::new()),
        Some(Shape::Scalar(kind)) => scalar(*kind, input),
        None => stray(input),
    }
}

fn assert_parses(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Text(t)) => {
                if let Err(e) = t.unescape() {
                    panic!("text does not unescape: {e}\n{xml}");
                }
            }
            Ok(_) => {}
            Err(e) => panic!("not XML: {e}\n{xml}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let ops = operations();
    let operation = ops[usize::from(input.byte()) % ops.len()].as_str();
    let mode = input.byte();

    let code = input.text();
    let message = input.text();
    assert_parses(&error(&code, &message, REQUEST_ID));

    let body = if mode & 1 == 0 {
        match model().output(operation) {
            Some(shape) => generate(shape, &mut input, 0),
            None => Value::Object(Map::new()),
        }
    } else {
        match serde_json::from_slice(input.0) {
            Ok(v) => v,
            Err(_) => return,
        }
    };
    if let Ok(xml) = encode(operation, REQUEST_ID, &body) {
        assert_parses(&xml);
    }
});
