//! The EC2 Query decoder: a request body (or query string) as it arrives, parsed into pairs
//! and decoded against the input shape of an operation of the model.
//!
//! The operation is the body's own `Action` when the model has it (as the server picks it);
//! otherwise the first byte picks one, so that every operation's shapes are reachable from
//! any input.
#![no_main]

use ec2api::protocol::query::{decode, Params};
use ec2api::protocol::shapes::model;
use imds_fuzz::operations;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    let ops = operations();
    let operation = match params.get("Action") {
        Some(a) if model().operations.contains_key(a) => a,
        _ => ops[usize::from(data.first().copied().unwrap_or(0)) % ops.len()].as_str(),
    };
    if let Ok(value) = decode(operation, &params) {
        // What handlers get is always an object keyed by member names.
        assert!(value.is_object(), "{operation} decoded to {value}");
    }
});
