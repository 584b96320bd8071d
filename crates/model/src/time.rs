//! Time: the one place the system clock is read ([`now_ms`]), and dates as EC2 and the
//! metadata service write them, from milliseconds since the epoch (the one formatter).
//!
//! No rule of the model reads the clock: callers read it once, here, and pass `now` in, so
//! every rule stays testable with any time.

/// Milliseconds since the Unix epoch, from the system clock (0 if it is set before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS GMT`, as EC2 writes it in `stateTransitionReason`.
pub(crate) fn fmt_reason_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// A UTC timestamp of milliseconds since the epoch in ISO 8601, `2026-11-22T17:00:00.000Z`
/// with `millis`, as EC2 writes them, else `2026-11-22T17:00:00Z`, as the metadata service
/// writes them.
pub fn iso8601(ms: i64, millis: bool) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let (h, mi, s) = (rem / 3600, (rem / 60) % 60, rem % 60);
    if millis {
        format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
            ms.rem_euclid(1000)
        )
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `Sun, 22 Nov 2026 18:03:18 GMT` (RFC 7231 IMF-fixdate).
pub fn http_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let rem = secs.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// `21 Jan 2019 09:00:43 GMT`, as the metadata service dates maintenance events (Go's
/// `2 Jan 2006 15:04:05 GMT`: the day not zero-padded, as AEMM writes it; UNCONFIRMED for
/// EC2, whose sample has a two-digit day).
pub fn event_date(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{d} {} {y:04} {:02}:{:02}:{:02} GMT",
        MONTHS[(m as usize).saturating_sub(1) % 12],
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(1_795_370_598_000),
            "Sun, 22 Nov 2026 18:03:18 GMT"
        );
    }

    #[test]
    fn iso8601_with_and_without_milliseconds() {
        assert_eq!(iso8601(1_795_370_598_123, true), "2026-11-22T18:03:18.123Z");
        assert_eq!(iso8601(1_795_370_598_123, false), "2026-11-22T18:03:18Z");
        assert_eq!(fmt_reason_time(0), "1970-01-01 00:00:00 GMT");
    }
}
