//! The clock: how far a signature's date may be from now.

use crate::{SigV4Error, SignedRequest};
use time::{Duration, OffsetDateTime};

/// AWS accepts header-signed requests whose `X-Amz-Date` is within 15 minutes of its own clock,
/// in either direction; outside that the request is `RequestExpired`.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);

/// Clock check. Header-signed requests may be up to 15 minutes early or late (`RequestExpired`
/// otherwise). A presigned request is expired when `now > X-Amz-Date + X-Amz-Expires`; without
/// `X-Amz-Expires` it gets the same 15 minutes, and one dated more than 15 minutes in the future
/// is refused too, so that a far-future date cannot stretch its lifetime.
pub fn check_time(req: &SignedRequest, now: OffsetDateTime) -> Result<(), SigV4Error> {
    check_clock(req.amz_date, req.presigned, req.expires, now)
}

pub(crate) fn check_clock(
    amz_date: OffsetDateTime,
    presigned: bool,
    expires: Option<u64>,
    now: OffsetDateTime,
) -> Result<(), SigV4Error> {
    let age = now - amz_date;
    let ok = if presigned {
        let lifetime = match expires {
            Some(secs) => Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)),
            None => MAX_CLOCK_SKEW,
        };
        age >= -MAX_CLOCK_SKEW && age <= lifetime
    } else {
        age.abs() <= MAX_CLOCK_SKEW
    };
    if ok {
        Ok(())
    } else {
        Err(SigV4Error::Expired)
    }
}
