//! The event controls' JSON bodies (issue 16: `POST /_imds/instances/{id}/events`,
//! `…/interruption`, `PUT …/target-lifecycle-state`), read into the model's types
//! (`imds::admin::events::body`): humantime durations, RFC 3339 times, codes and states.
//!
//! Input: one byte picks the control, then the body. Besides "never panics", what a body
//! yields is bounded: a schedule's times stay inside what the API can write, and an
//! interruption's steps come in order.
#![no_main]

use imds::admin::events::body::{interruption, lifecycle, schedule};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

/// 2026-12-07T00:00:00Z.
const NOW_MS: i64 = 1_796_601_600_000;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    match first % 3 {
        0 => {
            if let Ok(s) = schedule(body, NOW_MS) {
                // Years 1970..=9999 at most: the API's timestamps have four digits.
                let bound = 253_402_300_799_000;
                assert!((0..=bound).contains(&s.not_before_ms), "{s:?}");
                if let Ok(e) = s.event("instance-event-00000000000000000".into()) {
                    assert!(e.not_after_ms.is_none_or(|a| a >= e.not_before_ms), "{e:?}");
                    let last = e.not_after_ms.into_iter().chain(e.deadline_ms).max();
                    assert!(last.is_none_or(|t| t <= bound), "{e:?}");
                }
            }
        }
        1 => {
            let _ = lifecycle(body);
        }
        _ => {
            let notice = Duration::from_millis(u64::from(first) * 100);
            if let Ok(i) = interruption(body, NOW_MS, notice) {
                assert!(i.rebalance_at_ms <= i.notice_at_ms && i.notice_at_ms <= i.action_at_ms);
            }
        }
    }
});
