//! ISO 8601 durations as FIS takes them, and the one the spot action has: its
//! `durationBeforeInterruption`, its default and its range. Kept apart because both the
//! template checks and the plan of an experiment read it.

use super::{invalid, Invalid, DURATION_PARAMETER};
use std::collections::BTreeMap;

/// `durationBeforeInterruption` when omitted: PT2M (UNCONFIRMED, spec §7.6).
pub const DEFAULT_DURATION_MS: i64 = 120_000;
/// The parameter's range: 2 to 15 minutes [S10].
pub const MIN_DURATION_MS: i64 = 120_000;
pub const MAX_DURATION_MS: i64 = 900_000;

/// An ISO 8601 duration (`PT2M`, `PT120S`, `PT1M30S`, `P1DT2H`, `PT0.5S`) in milliseconds:
/// days, hours, minutes and seconds (fractions of seconds only), at least one of them.
/// Years, months and weeks are refused: their length is not fixed.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total: i64 = 0;
    let mut parts = 0;
    let mut take = |text: &str, units: &[(char, i64)]| -> Option<()> {
        let mut number = String::new();
        let mut unit_at = 0;
        for c in text.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let k = units.iter().skip(unit_at).position(|(u, _)| *u == c)? + unit_at;
            let ms_per = units[k].1;
            unit_at = k + 1;
            if number.is_empty() || number.len() > 12 {
                return None;
            }
            let ms = match number.split_once('.') {
                // Fractions only for seconds.
                Some((whole, frac)) if c == 'S' && !whole.is_empty() && !frac.is_empty() => {
                    let w: i64 = whole.parse().ok()?;
                    let f3: String = frac.chars().chain("000".chars()).take(3).collect();
                    if !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    w.checked_mul(1000)?.checked_add(f3.parse::<i64>().ok()?)?
                }
                Some(_) => return None,
                None => number.parse::<i64>().ok()?.checked_mul(ms_per)?,
            };
            total = total.checked_add(ms)?;
            parts += 1;
            number.clear();
        }
        number.is_empty().then_some(())
    };
    take(date, &[('D', 86_400_000)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        take(t, &[('H', 3_600_000), ('M', 60_000), ('S', 1000)])?;
    }
    (parts > 0).then_some(total)
}

/// `durationBeforeInterruption` of a spot action's parameters, in milliseconds: 2 to 15
/// minutes [S10], PT2M when omitted (UNCONFIRMED). Outside the range, or not a duration:
/// `ValidationException` (UNCONFIRMED wording, and that Create is the call that refuses it,
/// spec §7.6, case 37).
pub fn duration_before_interruption(
    parameters: Option<&BTreeMap<String, String>>,
) -> Result<i64, Invalid> {
    let Some(text) = parameters.and_then(|p| p.get(DURATION_PARAMETER)) else {
        return Ok(DEFAULT_DURATION_MS);
    };
    match parse_duration_ms(text) {
        Some(ms) if (MIN_DURATION_MS..=MAX_DURATION_MS).contains(&ms) => Ok(ms),
        Some(_) => invalid(format!(
            "The value {text} of parameter {DURATION_PARAMETER} is out of range: it must be from PT2M to PT15M."
        )),
        None => invalid(format!(
            "The value {text} of parameter {DURATION_PARAMETER} is not an ISO 8601 duration (such as PT2M)."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        let d = parse_duration_ms;
        assert_eq!(d("PT2M"), Some(120_000));
        assert_eq!(d("PT120S"), Some(120_000));
        assert_eq!(d("PT15M"), Some(900_000));
        assert_eq!(d("PT1M30S"), Some(90_000));
        assert_eq!(d("PT1H"), Some(3_600_000));
        assert_eq!(d("P1D"), Some(86_400_000));
        assert_eq!(d("P1DT1S"), Some(86_401_000));
        assert_eq!(d("PT0.5S"), Some(500));
        assert_eq!(d("PT2.25S"), Some(2250));
        for bad in [
            "",
            "P",
            "PT",
            "2M",
            "PT2",
            "PTM",
            "PT2X",
            "P1M",
            "P1Y",
            "PT1S2M",
            "PT2M2M",
            "PT1.5M",
            "PT.5S",
            "PT5.S",
            "PT99999999999999999M",
            "pt2m",
            "PT-2M",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    /// Case 37: PT1M and PT16M are outside 2..15 minutes.
    #[test]
    fn durations_before_interruption() {
        let p = |v: &str| BTreeMap::from([(DURATION_PARAMETER.to_string(), v.to_string())]);
        assert_eq!(duration_before_interruption(None), Ok(120_000));
        assert_eq!(duration_before_interruption(Some(&p("PT4M"))), Ok(240_000));
        assert_eq!(
            duration_before_interruption(Some(&p("PT120S"))),
            Ok(120_000)
        );
        assert!(duration_before_interruption(Some(&p("PT1M"))).is_err());
        assert!(duration_before_interruption(Some(&p("PT16M"))).is_err());
        assert!(duration_before_interruption(Some(&p("two minutes"))).is_err());
    }
}
