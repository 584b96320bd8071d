//! CloudWatch's reads as either wire carries them (issue 15): a request is decoded (the
//! Query protocol's form body along botocore's `cloudwatch` model, or AWS JSON 1.0's body),
//! then read into its typed input and checked (`ec2api::cloudwatch::parse`): timestamps,
//! integers, lists, the window's arithmetic (`model::metrics::check_window`).
//!
//! Input: one byte picks the wire (even: Query, odd: JSON) and the operation (the byte / 2,
//! modulo the three operations, or an unknown one), then the body.
//!
//! Besides "never panics", what a check passes is bounded: a GetMetricStatistics window that
//! `parse` accepts asks for at most 1,440 datapoints, so `model::metrics::datapoints` over a
//! sample every minute of it gives at most that many.
#![no_main]

use ec2api::cloudwatch::{decode, parse, Request, Wire};
use libfuzzer_sys::fuzz_target;

const OPERATIONS: [&str; 4] = ["GetMetricStatistics", "GetMetricData", "ListMetrics", "PutMetricData"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let wire = if first % 2 == 0 { Wire::Query } else { Wire::Json };
    let operation = OPERATIONS[usize::from(first / 2) % OPERATIONS.len()];
    let Ok(decoded) = decode(wire, operation, body) else {
        return;
    };
    if let Ok(Request::Statistics(q)) = parse(operation, &decoded) {
        let (start, end, period) = q.window();
        // A sample every minute (at most a day's worth: the window holds at most 1,440
        // buckets, but a short period could make a long window of minutes).
        let samples: Vec<model::metrics::Sample> = (0..1440)
            .map(|k| start.saturating_add(k * 60_000))
            .take_while(|at| *at < end)
            .map(|at_ms| model::metrics::Sample { at_ms, value: 1.0 })
            .collect();
        let points = model::metrics::datapoints(&samples, start, end, period, start);
        assert!(points.len() as u64 <= model::metrics::MAX_DATAPOINTS, "{}", points.len());
    }
});
