//! EC2's two CloudWatch metrics of the metadata service, `MetadataNoToken` and
//! `MetadataNoTokenRejected` (spec wave2.md §1.5), and the rules of CloudWatch's read API over
//! them: the window checks of GetMetricStatistics (§1.6, §1.9, §1.10), the rounding of a
//! query's start (§1.9) and the statistics of each period (§1.6).
//!
//! The metadata host keeps, per instance, what it counted in each UTC minute ([`Minute`]);
//! what CloudWatch would have published from those minutes ([`samples`]) and what a query
//! reads of them ([`datapoints`]) are derived here, with `now_ms` passed in: no clock is read.

/// The namespace EC2 publishes its instance metrics in (spec wave2.md §1.5).
pub const NAMESPACE: &str = "AWS/EC2";
/// The one dimension the two metrics are published with (spec wave2.md §1.5).
pub const DIMENSION: &str = "InstanceId";
/// At most this many datapoints a GetMetricStatistics call may ask for.
pub const MAX_DATAPOINTS: u64 = 1440;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// One of the two metrics of the metadata service (spec wave2.md §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricName {
    /// Metadata accesses that succeeded without a session token (IMDSv1).
    MetadataNoToken,
    /// Tokenless accesses refused because tokens are required (`HttpTokens=required`).
    MetadataNoTokenRejected,
}

impl MetricName {
    pub const ALL: [MetricName; 2] = [
        MetricName::MetadataNoToken,
        MetricName::MetadataNoTokenRejected,
    ];

    /// The metric a name denotes: CloudWatch matches metric names exactly (spec wave2.md §1.6).
    pub fn parse(s: &str) -> Option<MetricName> {
        MetricName::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MetricName::MetadataNoToken => "MetadataNoToken",
            MetricName::MetadataNoTokenRejected => "MetadataNoTokenRejected",
        }
    }
}

/// A statistic of GetMetricStatistics's `Statistics` (spec wave2.md §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
}

impl Statistic {
    /// In the order CloudWatch writes a datapoint's members (spec wave2.md §1.2).
    pub const ALL: [Statistic; 5] = [
        Statistic::SampleCount,
        Statistic::Average,
        Statistic::Sum,
        Statistic::Minimum,
        Statistic::Maximum,
    ];

    /// The statistic a name denotes (exact, as the `Statistic` enum of the model spells it).
    pub fn parse(s: &str) -> Option<Statistic> {
        Statistic::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::SampleCount => "SampleCount",
            Statistic::Average => "Average",
            Statistic::Sum => "Sum",
            Statistic::Minimum => "Minimum",
            Statistic::Maximum => "Maximum",
        }
    }
}

/// One UTC minute of one instance's metadata calls (what the metadata host keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Minute {
    /// The minute's start, a multiple of 60,000.
    pub start_ms: i64,
    /// Every request in the minute, token PUTs and refusals included.
    pub requests: u64,
    /// Tokenless requests answered 200 (`MetadataNoToken`).
    pub no_token: u64,
    /// Tokenless requests refused because tokens are required (`MetadataNoTokenRejected`).
    pub no_token_rejected: u64,
}

/// One instance's recent minutes, with the account and Region its metrics belong to (a
/// metric of `AWS/EC2` is read in the caller's account and Region): what the metadata host
/// lends the CloudWatch API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceMinutes {
    pub instance_id: String,
    pub account: String,
    pub region: String,
    /// Ascending, only minutes with at least one request.
    pub minutes: Vec<Minute>,
}

/// One published sample: a metric's value for one instance and minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at_ms: i64,
    pub value: f64,
}

/// The samples `metric` publishes from an instance's minutes, one per minute at its start
/// (spec wave2.md §1.5, emulation model UNCONFIRMED):
/// - `MetadataNoToken`: every minute in which the instance made any metadata request, its
///   value the tokenless successful calls, possibly 0 (AWS documents the metric as 0 when
///   every call used a token; that a sample is published for each active minute, and not
///   for each minute the instance runs, is UNCONFIRMED);
/// - `MetadataNoTokenRejected`: only the minutes with a refused tokenless call, its value
///   their count (AWS: the metric "appears only when such calls occur").
pub fn samples(metric: MetricName, minutes: &[Minute]) -> Vec<Sample> {
    let sample = |m: &Minute| -> Option<Sample> {
        let value = match metric {
            MetricName::MetadataNoToken if m.requests > 0 => m.no_token,
            MetricName::MetadataNoTokenRejected if m.no_token_rejected > 0 => m.no_token_rejected,
            _ => return None,
        };
        Some(Sample {
            at_ms: m.start_ms,
            value: value as f64,
        })
    };
    minutes.iter().filter_map(sample).collect()
}

/// The statistics of one period of GetMetricStatistics (spec wave2.md §1.6).
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// The start of the datapoint's period.
    pub timestamp_ms: i64,
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
    /// The period's sample values, ascending (for percentiles).
    values: Vec<f64>,
}

/// A percentile statistic (`ExtendedStatistics`, a `Stat` of GetMetricData): `p` and a number
/// from 0 to 100 with at most two decimals (`p90`, `p99.9`, `p0.0`, `p100`; CloudWatch User
/// Guide, "Percentiles"). The other extended statistics (trimmed means, counts, sums, `PR`)
/// are not computed by imds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentile(f64);

impl Percentile {
    pub fn parse(s: &str) -> Option<Percentile> {
        let n = s.strip_prefix('p')?;
        let (whole, fraction) = n.split_once('.').unwrap_or((n, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || whole.len() > 3
            || fraction.len() > 2
            || !digits(whole)
            || !digits(fraction)
        {
            return None;
        }
        let p: f64 = n.parse().ok()?;
        (0.0..=100.0).contains(&p).then_some(Percentile(p))
    }
}

impl Datapoint {
    /// The value of statistic `s`; `Average` is `Sum / SampleCount` (spec wave2.md §1.6).
    pub fn value(&self, s: Statistic) -> f64 {
        match s {
            Statistic::SampleCount => self.sample_count,
            Statistic::Average => self.sum / self.sample_count,
            Statistic::Sum => self.sum,
            Statistic::Minimum => self.minimum,
            Statistic::Maximum => self.maximum,
        }
    }

    /// The value of percentile `p` over the period's samples: the nearest rank (the smallest
    /// value with at least `p`% of the samples at or below it; CloudWatch's exact method for
    /// raw samples is UNCONFIRMED).
    pub fn percentile(&self, p: Percentile) -> f64 {
        let n = self.values.len();
        if n == 0 {
            return 0.0;
        }
        let rank = ((p.0 / 100.0) * n as f64).ceil() as usize;
        self.values[rank.clamp(1, n) - 1]
    }

    fn of(timestamp_ms: i64, value: f64) -> Datapoint {
        Datapoint {
            timestamp_ms,
            sample_count: 1.0,
            sum: value,
            minimum: value,
            maximum: value,
            values: vec![value],
        }
    }

    fn add(&mut self, value: f64) {
        self.sample_count += 1.0;
        self.sum += value;
        self.minimum = self.minimum.min(value);
        self.maximum = self.maximum.max(value);
        self.values.push(value);
    }
}

/// Why a GetMetricStatistics/GetMetricData window is refused (CloudWatch's wording, spec
/// wave2.md §1.10).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// GetMetricStatistics StartTime >= EndTime (spec case 9).
    #[error("The parameter StartTime must be less than the parameter EndTime.")]
    StartNotBeforeEnd,
    /// More than [`MAX_DATAPOINTS`] requested; holds how many (spec case 10).
    #[error("You have requested up to {0} datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.")]
    TooManyDatapoints(u64),
    /// A Period below 1, or not a multiple of 60 and none of the high-resolution periods
    /// (wording UNCONFIRMED: Eucalyptus's, spec wave2.md §1.9).
    #[error("The parameter Period must be a multiple of 60.")]
    Period(i64),
}

impl MetricsError {
    /// The Query error code (spec wave2.md §1.10); JSON clients get it in
    /// `x-amzn-query-error` (§1.3).
    pub fn code(&self) -> &'static str {
        match self {
            MetricsError::StartNotBeforeEnd | MetricsError::Period(_) => "InvalidParameterValue",
            MetricsError::TooManyDatapoints(_) => "InvalidParameterCombination",
        }
    }
}

/// The periods below a minute CloudWatch takes, for high-resolution data (spec wave2.md §1.9).
/// They are accepted for any metric: Period 1 is observed not to be refused as such (the
/// datapoint limit fires instead, spec case 10).
const HIGH_RESOLUTION_PERIODS: [i64; 5] = [1, 5, 10, 20, 30];

/// The checks of GetMetricStatistics's window, in this order: StartTime < EndTime, Period,
/// datapoint count = ceil((end - start) / period) <= 1440 (spec wave2.md §1.6, §1.9, §1.10;
/// rounding the count up is the spec's recommendation, UNCONFIRMED). Spec case 10: Period 1
/// over 24 h → `TooManyDatapoints(86400)`; Period 60 over 24 h → `Ok`.
pub fn check_window(start_ms: i64, end_ms: i64, period_s: i64) -> Result<(), MetricsError> {
    if start_ms >= end_ms {
        return Err(MetricsError::StartNotBeforeEnd);
    }
    if period_s < 1 || (period_s % 60 != 0 && !HIGH_RESOLUTION_PERIODS.contains(&period_s)) {
        return Err(MetricsError::Period(period_s));
    }
    // In i128: neither the span nor the period in milliseconds can overflow.
    let span = i128::from(end_ms) - i128::from(start_ms);
    let period = i128::from(period_s) * 1000;
    let count = (span + period - 1) / period;
    if count > i128::from(MAX_DATAPOINTS) {
        return Err(MetricsError::TooManyDatapoints(
            u64::try_from(count).unwrap_or(u64::MAX),
        ));
    }
    Ok(())
}

/// The start CloudWatch rounds a query's StartTime down to, by its age at `now_ms` (spec
/// wave2.md §1.9): less than 15 days old → the minute; 15 to 63 days → 5 minutes; more than
/// 63 days → the hour. A start in the future is rounded to the minute.
pub fn rounded_start(start_ms: i64, now_ms: i64) -> i64 {
    let age = now_ms.saturating_sub(start_ms);
    let step = if age < 15 * DAY_MS {
        MINUTE_MS
    } else if age <= 63 * DAY_MS {
        5 * MINUTE_MS
    } else {
        60 * MINUTE_MS
    };
    start_ms.div_euclid(step).saturating_mul(step)
}

/// Whether CloudWatch still has data at `period_s` for a query starting `start_ms`: a start
/// older than 3 h / 15 days / 63 days with a Period not a multiple of 60 / 300 / 3,600 gets no
/// datapoints, not an error (spec wave2.md §1.9).
fn period_retained(start_ms: i64, period_s: i64, now_ms: i64) -> bool {
    let age = now_ms.saturating_sub(start_ms);
    let kept_step = [(63 * DAY_MS, 3600), (15 * DAY_MS, 300), (3 * 3_600_000, 60)]
        .into_iter()
        .find(|(older, _)| age > *older)
        .map_or(1, |(_, step)| step);
    period_s % kept_step == 0
}

/// GetMetricStatistics's datapoints (spec wave2.md §1.6): buckets of `period_s` from the
/// rounded start ([`rounded_start`]) up to `end_ms` (exclusive); a sample is in
/// `[bucket, bucket + period)` and in `[rounded start, end)`; buckets without samples give
/// none; ascending by timestamp (AWS does not promise an order, spec §1.6); each datapoint's
/// timestamp its bucket start; statistics over the bucket's samples. A Period CloudWatch no
/// longer keeps data at for so old a start gives none (spec §1.9). The window is not checked
/// here ([`check_window`]); a Period below 1 gives none.
pub fn datapoints(
    samples: &[Sample],
    start_ms: i64,
    end_ms: i64,
    period_s: i64,
    now_ms: i64,
) -> Vec<Datapoint> {
    if period_s < 1 || !period_retained(start_ms, period_s, now_ms) {
        return Vec::new();
    }
    let start = rounded_start(start_ms, now_ms);
    let period_ms = i128::from(period_s) * 1000;
    let mut buckets: std::collections::BTreeMap<i64, Datapoint> = Default::default();
    for s in samples
        .iter()
        .filter(|s| s.at_ms >= start && s.at_ms < end_ms)
    {
        // In i128, and back: the bucket's start lies between `start` and the sample's time.
        let offset = (i128::from(s.at_ms) - i128::from(start)) / period_ms * period_ms;
        let at = (i128::from(start) + offset) as i64;
        buckets
            .entry(at)
            .and_modify(|d| d.add(s.value))
            .or_insert_with(|| Datapoint::of(at, s.value));
    }
    buckets
        .into_values()
        .map(|mut d| {
            d.values.sort_by(f64::total_cmp);
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        for bad in ["p", "p101", "p-1", "p9.999", "tm90", "p1000", "90", "p.5"] {
            assert_eq!(Percentile::parse(bad), None, "{bad}");
        }
        let p = |s: &str| Percentile::parse(s).unwrap();
        let samples: Vec<Sample> = [5.0, 1.0, 4.0, 2.0, 3.0]
            .iter()
            .enumerate()
            .map(|(k, v)| Sample {
                at_ms: k as i64 * 60_000,
                value: *v,
            })
            .collect();
        let [d] = &datapoints(&samples, 0, 600_000, 600, 600_000)[..] else {
            panic!("one datapoint");
        };
        assert_eq!(d.percentile(p("p0.0")), 1.0);
        assert_eq!(d.percentile(p("p50")), 3.0);
        assert_eq!(d.percentile(p("p90")), 5.0);
        assert_eq!(d.percentile(p("p100")), 5.0);
        assert_eq!(d.percentile(p("p20")), 1.0);
        assert_eq!(d.percentile(p("p20.01")), 2.0);
    }

    /// 2026-01-15T11:00:00Z (spec wave2.md §1.3).
    const T11: i64 = 1_768_474_800_000;
    const MIN: i64 = MINUTE_MS;

    fn minute(start_ms: i64, requests: u64, no_token: u64, no_token_rejected: u64) -> Minute {
        Minute {
            start_ms,
            requests,
            no_token,
            no_token_rejected,
        }
    }

    fn sample(at_ms: i64, value: f64) -> Sample {
        Sample { at_ms, value }
    }

    #[test]
    fn names_round_trip_exactly() {
        for m in MetricName::ALL {
            assert_eq!(MetricName::parse(m.as_str()), Some(m));
        }
        for s in Statistic::ALL {
            assert_eq!(Statistic::parse(s.as_str()), Some(s));
        }
        assert_eq!(MetricName::parse("metadatanotoken"), None);
        assert_eq!(Statistic::parse("Median"), None, "spec case 13");
        assert!(MetricName::MetadataNoToken < MetricName::MetadataNoTokenRejected);
    }

    /// Spec cases 3 and 4: 3 tokenless 200s in minute M, queried `[M, M+60)` by the minute.
    #[test]
    fn three_tokenless_calls_in_a_minute_are_one_sample_of_three() {
        let m = T11 + 5 * MIN;
        let s = samples(MetricName::MetadataNoToken, &[minute(m, 3, 3, 0)]);
        assert_eq!(s, vec![sample(m, 3.0)]);
        let d = datapoints(&s, m, m + MIN, 60, m + 2 * MIN);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].timestamp_ms, m);
        let values: Vec<f64> = Statistic::ALL.iter().map(|st| d[0].value(*st)).collect();
        // SampleCount, Average, Sum, Minimum, Maximum.
        assert_eq!(values, vec![1.0, 3.0, 3.0, 3.0, 3.0]);
    }

    /// Spec case 5: 2 tokenless calls refused (tokens required).
    #[test]
    fn refused_calls_count_as_rejected_only() {
        let m = T11;
        let minutes = [minute(m, 2, 0, 2)];
        let rejected = samples(MetricName::MetadataNoTokenRejected, &minutes);
        let d = datapoints(&rejected, m, m + MIN, 60, m + MIN);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].value(Statistic::Sum), 2.0);
        let no_token = samples(MetricName::MetadataNoToken, &minutes);
        let d = datapoints(&no_token, m, m + MIN, 60, m + MIN);
        assert!(d.iter().all(|d| d.value(Statistic::Sum) == 0.0), "{d:?}");
    }

    /// Spec case 6: only token-bearing calls: no rejected datapoint, `MetadataNoToken` 0.
    #[test]
    fn token_calls_publish_zero_and_no_rejection() {
        let m = T11;
        let minutes = [minute(m, 4, 0, 0)];
        assert!(samples(MetricName::MetadataNoTokenRejected, &minutes).is_empty());
        let s = samples(MetricName::MetadataNoToken, &minutes);
        assert_eq!(s, vec![sample(m, 0.0)]);
        let d = datapoints(&s, m, m + MIN, 60, m + MIN);
        assert_eq!(d[0].value(Statistic::Sum), 0.0);
        assert_eq!(d[0].value(Statistic::SampleCount), 1.0);
        // A minute without requests publishes nothing.
        assert!(samples(MetricName::MetadataNoToken, &[minute(m, 0, 0, 0)]).is_empty());
    }

    /// Spec case 9.
    #[test]
    fn start_must_be_before_end() {
        let e = check_window(T11, T11, 60).unwrap_err();
        assert_eq!(e, MetricsError::StartNotBeforeEnd);
        assert_eq!(e.code(), "InvalidParameterValue");
        assert_eq!(
            e.to_string(),
            "The parameter StartTime must be less than the parameter EndTime."
        );
        assert_eq!(
            check_window(T11 + MIN, T11, 60),
            Err(MetricsError::StartNotBeforeEnd)
        );
        // Checked before the Period.
        assert_eq!(
            check_window(T11, T11, 0),
            Err(MetricsError::StartNotBeforeEnd)
        );
    }

    /// Spec case 10.
    #[test]
    fn at_most_1440_datapoints() {
        let e = check_window(T11 - DAY_MS, T11, 1).unwrap_err();
        assert_eq!(e, MetricsError::TooManyDatapoints(86_400));
        assert_eq!(e.code(), "InvalidParameterCombination");
        assert_eq!(
            e.to_string(),
            "You have requested up to 86400 datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        );
        assert_eq!(check_window(T11 - DAY_MS, T11, 60), Ok(()));
        // The count is rounded up: a second more than 24 h at 60 s is 1441.
        assert_eq!(
            check_window(T11 - DAY_MS - 1000, T11, 60),
            Err(MetricsError::TooManyDatapoints(1441))
        );
        assert_eq!(check_window(i64::MIN, i64::MAX, i64::MAX / 60 * 60), Ok(()));
        assert_eq!(rounded_start(i64::MIN, 0), i64::MIN);
        assert_eq!(
            datapoints(&[sample(0, 1.0)], i64::MIN, i64::MAX, 3600, 0).len(),
            1
        );
    }

    #[test]
    fn periods() {
        for p in [1, 5, 10, 20, 30, 60, 300, 3600, 86_400] {
            assert_eq!(check_window(T11, T11 + MIN, p), Ok(()), "{p}");
        }
        for p in [0, -60, 2, 45, 61, 90] {
            let e = check_window(T11, T11 + MIN, p).unwrap_err();
            assert_eq!(e, MetricsError::Period(p));
            assert_eq!(e.code(), "InvalidParameterValue");
            assert_eq!(
                e.to_string(),
                "The parameter Period must be a multiple of 60."
            );
        }
    }

    /// Spec case 16: data 5 min old, Period 300, StartTime 11:02:30 → bucket 11:02:00.
    #[test]
    fn a_recent_start_is_rounded_to_the_minute() {
        let now = T11 + 10 * MIN;
        let s = [sample(T11 + 5 * MIN, 1.0)];
        let d = datapoints(&s, T11 + 2 * MIN + 30_000, now, 300, now);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].timestamp_ms, T11 + 2 * MIN);
    }

    #[test]
    fn rounding_by_age() {
        let start = T11 + 37 * MIN + 12_345; // 11:37:12.345
        let at = |age_ms: i64| rounded_start(start, start + age_ms);
        assert_eq!(at(0), T11 + 37 * MIN);
        assert_eq!(at(-DAY_MS), T11 + 37 * MIN, "a start in the future");
        assert_eq!(at(15 * DAY_MS - 1), T11 + 37 * MIN);
        assert_eq!(at(15 * DAY_MS), T11 + 35 * MIN);
        assert_eq!(at(63 * DAY_MS), T11 + 35 * MIN);
        assert_eq!(at(63 * DAY_MS + 1), T11);
    }

    #[test]
    fn the_window_is_start_inclusive_end_exclusive() {
        let now = T11 + 30 * MIN;
        let start = T11 + 10 * MIN + 30_000; // rounded to 11:10:00
        let end = T11 + 20 * MIN;
        let s = [
            sample(T11 + 9 * MIN, 100.0),
            sample(T11 + 10 * MIN, 1.0), // the rounded start: in
            sample(T11 + 19 * MIN, 2.0),
            sample(end, 100.0), // the end: out
        ];
        let d = datapoints(&s, start, end, 60, now);
        let got: Vec<(i64, f64)> = d
            .iter()
            .map(|d| (d.timestamp_ms, d.value(Statistic::Sum)))
            .collect();
        assert_eq!(got, vec![(T11 + 10 * MIN, 1.0), (T11 + 19 * MIN, 2.0)]);
    }

    #[test]
    fn buckets_aggregate_and_ascend() {
        let now = T11 + 60 * MIN;
        let s = [
            sample(T11 + 7 * MIN, 4.0),
            sample(T11 + MIN, 2.0),
            sample(T11 + 2 * MIN, 0.0),
            sample(T11 + 4 * MIN, 1.0),
        ];
        let d = datapoints(&s, T11, now, 300, now);
        assert_eq!(
            d,
            vec![
                Datapoint {
                    timestamp_ms: T11,
                    sample_count: 3.0,
                    sum: 3.0,
                    minimum: 0.0,
                    maximum: 2.0,
                    values: vec![0.0, 1.0, 2.0],
                },
                Datapoint::of(T11 + 5 * MIN, 4.0),
            ]
        );
        assert_eq!(d[0].value(Statistic::Average), 1.0);
    }

    #[test]
    fn an_old_start_with_a_finer_period_than_kept_gets_nothing() {
        let s = [sample(T11, 1.0)];
        let old = T11 + 4 * 3_600_000; // the start is 4 h old
        assert!(datapoints(&s, T11, T11 + MIN, 1, old).is_empty());
        assert_eq!(datapoints(&s, T11, T11 + MIN, 60, old).len(), 1);
        assert_eq!(datapoints(&s, T11, T11 + MIN, 1, T11 + MIN).len(), 1);
        let d16 = T11 + 16 * DAY_MS;
        assert!(datapoints(&s, T11, T11 + MIN, 60, d16).is_empty());
        assert_eq!(datapoints(&s, T11, T11 + MIN, 300, d16).len(), 1);
        assert!(datapoints(&s, T11, T11 + MIN, 0, T11).is_empty());
    }
}
