//! The three operations, on the caller's account and Region (the credential scope's), each
//! checking its input in CloudWatch's order (required members, then values, then the
//! caller's permission, then the data) and building its result once, in the wire's form.

use super::error::CloudWatchError;
use super::input::{
    input, DimensionIn, GetMetricDataIn, GetMetricStatisticsIn, ListMetricsIn, MetricDataQueryIn,
};
use super::Wire;
use crate::context::Call;
use model::metrics::{self, Datapoint, InstanceMinutes, MetricName, Percentile, Sample, Statistic};
use serde_json::{json, Map, Value};

/// `ListMetrics` answers at most this many metrics a page (CloudWatch API Reference).
const LIST_PAGE: usize = 500;

/// The unit both metrics are published in.
const UNIT: &str = "Count";

/// One CloudWatch call, its input checked (everything CloudWatch checks before the caller's
/// permission): what [`answer`] handles.
#[derive(Debug)]
pub enum Request {
    Statistics(StatisticsQuery),
    Data(DataQuery),
    List(ListQuery),
}

/// Read and check the input of `action` (decoded from either wire).
pub fn parse(action: &str, decoded: &Value) -> Result<Request, CloudWatchError> {
    match action {
        "GetMetricStatistics" => Ok(Request::Statistics(check_statistics(input(decoded)?)?)),
        "GetMetricData" => Ok(Request::Data(check_data(input(decoded)?)?)),
        "ListMetrics" => Ok(Request::List(check_list(input(decoded)?)?)),
        other => Err(CloudWatchError::InvalidAction(other.to_string())),
    }
}

/// Answer a checked call: its action's name as the model spells it, and its result.
pub fn answer(
    call: &Call<'_>,
    request: Request,
    wire: Wire,
) -> Result<(&'static str, Value), CloudWatchError> {
    match request {
        Request::Statistics(q) => {
            Ok(("GetMetricStatistics", get_metric_statistics(call, q, wire)?))
        }
        Request::Data(q) => Ok(("GetMetricData", get_metric_data(call, q, wire)?)),
        Request::List(q) => Ok(("ListMetrics", list_metrics(call, q)?)),
    }
}

fn missing(name: &str) -> CloudWatchError {
    CloudWatchError::MissingParameter(name.to_string())
}

fn authorize(call: &Call<'_>, action: &str) -> Result<(), CloudWatchError> {
    // CloudWatch's actions have no resource types: statements name `*` (spec §1.11).
    crate::query_api::authorize(call, action, "*").map_err(CloudWatchError::from)
}

/// The instances of the caller's account and Region with counted minutes.
fn scope_series(call: &Call<'_>) -> Vec<InstanceMinutes> {
    let caller = call.caller;
    call.api
        .metrics
        .instance_minutes()
        .into_iter()
        .filter(|m| m.account == caller.account && m.region == caller.region)
        .collect()
}

/// The samples a metric named by `namespace`, `name`, `dimensions` and `unit` has: the
/// instance's when the dimensions are exactly `InstanceId=<id>`, every instance's of the
/// scope when there are none (the account-level aggregate; UNCONFIRMED that AWS publishes it
/// for these two metrics, spec §1.5), none otherwise. Names, namespaces and dimension sets
/// match exactly, and a unit other than the metric's matches nothing (spec §1.6).
fn samples_of(
    series: &[InstanceMinutes],
    namespace: &str,
    name: &str,
    dimensions: &[DimensionIn],
    unit: Option<&str>,
) -> Vec<Sample> {
    let Some(metric) = MetricName::parse(name) else {
        return Vec::new();
    };
    if namespace != metrics::NAMESPACE || unit.is_some_and(|u| u != UNIT) {
        return Vec::new();
    }
    let of = |m: &InstanceMinutes| metrics::samples(metric, &m.minutes);
    match dimensions {
        [] => series.iter().flat_map(of).collect(),
        [DimensionIn {
            name: Some(n),
            value: Some(v),
        }] if n == metrics::DIMENSION => series
            .iter()
            .filter(|m| &m.instance_id == v)
            .flat_map(of)
            .collect(),
        _ => Vec::new(),
    }
}

/// GetMetricStatistics's input, checked.
#[derive(Debug)]
pub struct StatisticsQuery {
    namespace: String,
    name: String,
    dimensions: Vec<DimensionIn>,
    start: i64,
    end: i64,
    period: i64,
    statistics: Vec<Statistic>,
    /// `ExtendedStatistics`: percentiles, by their name as asked.
    extended: Vec<(String, Percentile)>,
    unit: Option<String>,
}

/// A statistic GetMetricData's `Stat` names: a basic one or a percentile.
#[derive(Debug, Clone, Copy)]
enum Stat {
    Basic(Statistic),
    Percentile(Percentile),
}

impl Stat {
    fn parse(s: &str) -> Option<Stat> {
        Statistic::parse(s)
            .map(Stat::Basic)
            .or_else(|| Percentile::parse(s).map(Stat::Percentile))
    }

    fn of(self, d: &Datapoint) -> f64 {
        match self {
            Stat::Basic(s) => d.value(s),
            Stat::Percentile(p) => d.percentile(p),
        }
    }
}

impl StatisticsQuery {
    /// StartTime and EndTime (ms) and Period (s), as checked.
    pub fn window(&self) -> (i64, i64, i64) {
        (self.start, self.end, self.period)
    }
}

fn check_statistics(i: GetMetricStatisticsIn) -> Result<StatisticsQuery, CloudWatchError> {
    let namespace = i.namespace.ok_or_else(|| missing("Namespace"))?;
    let name = i.metric_name.ok_or_else(|| missing("MetricName"))?;
    let start = i.start_time.ok_or_else(|| missing("StartTime"))?.0;
    let end = i.end_time.ok_or_else(|| missing("EndTime"))?.0;
    let period = i.period.ok_or_else(|| missing("Period"))?.get("Period")?;
    let stats = i.statistics.unwrap_or_default();
    let extended = i.extended_statistics.unwrap_or_default();
    // Exactly one of the two (API Reference; the wording is moto's, UNCONFIRMED, spec §1.10).
    if stats.is_empty() == extended.is_empty() {
        return Err(CloudWatchError::InvalidParameterCombination(
            "Must specify either Statistics or ExtendedStatistics".into(),
        ));
    }
    let mut statistics = Vec::new();
    for (k, s) in stats.iter().enumerate() {
        let s = Statistic::parse(s).ok_or_else(|| {
            CloudWatchError::InvalidParameterValue(format!(
                "The parameter Statistics.member.{} must be a value in the set [ Minimum, Maximum, Average, SampleCount, Sum ].",
                k + 1
            ))
        })?;
        statistics.push(s);
    }
    if stats.len() > 5 || extended.len() > 10 {
        return Err(validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {}",
            if stats.len() > 5 { "statistics" } else { "extendedStatistics" },
            if stats.len() > 5 { 5 } else { 10 }
        )));
    }
    let mut percentiles = Vec::new();
    for (k, e) in extended.iter().enumerate() {
        // Percentiles only: imds computes no trimmed means, counts or sums (the wording is
        // UNCONFIRMED).
        let p = Percentile::parse(e).ok_or_else(|| {
            CloudWatchError::InvalidParameterValue(format!(
                "The parameter ExtendedStatistics.member.{} must be a percentile between p0.0 and p100 (imds computes no other extended statistic).",
                k + 1
            ))
        })?;
        percentiles.push((e.clone(), p));
    }
    metrics::check_window(start, end, period)?;
    Ok(StatisticsQuery {
        namespace,
        name,
        dimensions: i.dimensions.unwrap_or_default(),
        start,
        end,
        period,
        statistics,
        extended: percentiles,
        unit: i.unit,
    })
}

/// GetMetricStatistics (spec §1.6): the datapoints of one metric, a bucket of `Period` each,
/// with the statistics asked for.
fn get_metric_statistics(
    call: &Call<'_>,
    q: StatisticsQuery,
    wire: Wire,
) -> Result<Value, CloudWatchError> {
    authorize(call, "cloudwatch:GetMetricStatistics")?;
    let series = scope_series(call);
    let samples = samples_of(
        &series,
        &q.namespace,
        &q.name,
        &q.dimensions,
        q.unit.as_deref(),
    );
    let now = model::time::now_ms();
    let datapoints: Vec<Value> = metrics::datapoints(&samples, q.start, q.end, q.period, now)
        .into_iter()
        .map(|d| {
            let mut point = Map::new();
            point.insert("Timestamp".into(), wire.timestamp(d.timestamp_ms));
            for s in &q.statistics {
                point.insert(s.as_str().into(), json!(d.value(*s)));
            }
            if !q.extended.is_empty() {
                let values: Map<String, Value> = q
                    .extended
                    .iter()
                    .map(|(name, p)| (name.clone(), json!(d.percentile(*p))))
                    .collect();
                point.insert("ExtendedStatistics".into(), Value::Object(values));
            }
            point.insert("Unit".into(), json!(UNIT));
            Value::Object(point)
        })
        .collect();
    Ok(json!({"Label": q.name, "Datapoints": datapoints}))
}

fn validation(message: impl Into<String>) -> CloudWatchError {
    CloudWatchError::Validation(message.into())
}

/// GetMetricData's input, checked.
#[derive(Debug)]
pub struct DataQuery {
    start: i64,
    end: i64,
    ascending: bool,
    queries: Vec<Query>,
}

fn check_data(i: GetMetricDataIn) -> Result<DataQuery, CloudWatchError> {
    let queries = i
        .metric_data_queries
        .ok_or_else(|| missing("MetricDataQueries"))?;
    let start = i.start_time.ok_or_else(|| missing("StartTime"))?.0;
    let end = i.end_time.ok_or_else(|| missing("EndTime"))?.0;
    // CloudWatch's wording, newline included (spec §1.10, case 21).
    if start == end {
        return Err(validation(
            "The parameter StartTime must not equal parameter EndTime.\n",
        ));
    }
    if start > end {
        // moto's wording (UNCONFIRMED, spec §1.10).
        return Err(validation(
            "The parameter EndTime must be greater than StartTime.",
        ));
    }
    if queries.is_empty() || queries.len() > 500 {
        return Err(validation(format!(
            "1 validation error detected: Value at 'metricDataQueries' failed to satisfy constraint: Member must have length between 1 and 500 (it has {})",
            queries.len()
        )));
    }
    let ascending = match i.scan_by.as_deref() {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'scanBy' failed to satisfy constraint: Member must satisfy enum value set: [TimestampDescending, TimestampAscending]"
            )))
        }
    };
    if let Some(token) = &i.next_token {
        // imds answers every datapoint in one page, so it hands out no token to come back
        // with (the wording is UNCONFIRMED, spec §1.10).
        return Err(CloudWatchError::InvalidNextToken(format!(
            "The NextToken '{token}' is not valid."
        )));
    }
    let mut checked: Vec<Query> = Vec::new();
    for (k, q) in queries.into_iter().enumerate() {
        let member = format!("MetricDataQueries.member.{}", k + 1);
        let c = check_query(q, &member)?;
        if checked.iter().any(|o| o.id == c.id) {
            return Err(validation(format!(
                "The value {} for parameter {member}.Id is already used.",
                c.id
            )));
        }
        checked.push(c);
    }
    Ok(DataQuery {
        start,
        end,
        ascending,
        queries: checked,
    })
}

/// GetMetricData (spec §1.7): per query, the timestamps and values of one statistic, newest
/// first unless `ScanBy=TimestampAscending`. Metric math (`Expression`) is not evaluated.
fn get_metric_data(call: &Call<'_>, q: DataQuery, wire: Wire) -> Result<Value, CloudWatchError> {
    authorize(call, "cloudwatch:GetMetricData")?;
    let series = scope_series(call);
    let now = model::time::now_ms();
    let results: Vec<Value> = q
        .queries
        .into_iter()
        .filter(|c| c.return_data)
        .map(|c| {
            let samples = samples_of(&series, &c.namespace, &c.name, &c.dimensions, c.unit.as_deref());
            let mut points = metrics::datapoints(&samples, q.start, q.end, c.period, now);
            if !q.ascending {
                points.reverse();
            }
            json!({
                "Id": c.id,
                "Label": c.label,
                "Timestamps": points.iter().map(|d| wire.timestamp(d.timestamp_ms)).collect::<Vec<_>>(),
                "Values": points.iter().map(|d| json!(c.stat.of(d))).collect::<Vec<_>>(),
                "StatusCode": "Complete",
                "Messages": [],
            })
        })
        .collect();
    Ok(json!({"MetricDataResults": results, "Messages": []}))
}

/// One query of GetMetricData, checked.
#[derive(Debug)]
struct Query {
    id: String,
    label: String,
    namespace: String,
    name: String,
    dimensions: Vec<DimensionIn>,
    period: i64,
    stat: Stat,
    unit: Option<String>,
    return_data: bool,
}

fn check_query(q: MetricDataQueryIn, member: &str) -> Result<Query, CloudWatchError> {
    let id = q.id.ok_or_else(|| missing(&format!("{member}.Id")))?;
    // The model's pattern for an id: a lowercase letter, then letters, digits, underscores.
    let well_formed = id.len() <= 255
        && id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return Err(validation(format!(
            "The value {id} for parameter {member}.Id is not valid. It must start with a lowercase letter and contain only letters, numbers and underscores."
        )));
    }
    if q.expression.is_some() {
        // Not evaluated by imds (UNCONFIRMED what AWS would answer for a bad one).
        return Err(validation(format!(
            "imds does not evaluate metric math: {member}.Expression is not supported"
        )));
    }
    let stat = q
        .metric_stat
        .ok_or_else(|| validation(format!("The parameter {member}.MetricStat is required.\n")))?;
    let metric = stat
        .metric
        .ok_or_else(|| missing(&format!("{member}.MetricStat.Metric")))?;
    let namespace = metric
        .namespace
        .ok_or_else(|| missing(&format!("{member}.MetricStat.Metric.Namespace")))?;
    let name = metric
        .metric_name
        .ok_or_else(|| missing(&format!("{member}.MetricStat.Metric.MetricName")))?;
    let period = stat
        .period
        .ok_or_else(|| missing(&format!("{member}.MetricStat.Period")))?
        .get(&format!("{member}.MetricStat.Period"))?;
    if period < 1 || (period % 60 != 0 && ![1, 5, 10, 20, 30].contains(&period)) {
        return Err(validation(format!(
            "The parameter {member}.MetricStat.Period must be 1, 5, 10, 20, 30, 60, or any multiple of 60."
        )));
    }
    let stat_name = stat
        .stat
        .ok_or_else(|| missing(&format!("{member}.MetricStat.Stat")))?;
    let statistic = Stat::parse(&stat_name).ok_or_else(|| {
        validation(format!(
            "imds computes SampleCount, Average, Sum, Minimum, Maximum and percentiles (p0.0 to p100); {member}.MetricStat.Stat '{stat_name}' is none of them"
        ))
    })?;
    Ok(Query {
        id,
        label: q.label.unwrap_or_else(|| name.clone()),
        namespace,
        name,
        dimensions: metric.dimensions.unwrap_or_default(),
        period,
        stat: statistic,
        unit: stat.unit,
        return_data: q.return_data.unwrap_or(true),
    })
}

/// ListMetrics's input, checked.
#[derive(Debug)]
pub struct ListQuery {
    namespace: Option<String>,
    name: Option<String>,
    filters: Vec<DimensionIn>,
    offset: usize,
    /// `RecentlyActive=PT3H`: only metrics with data in the last three hours.
    recent: bool,
}

fn check_list(i: ListMetricsIn) -> Result<ListQuery, CloudWatchError> {
    let offset = match &i.next_token {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            // moto's wording (UNCONFIRMED, spec §1.10).
            CloudWatchError::InvalidParameterValue("Request parameter NextToken is invalid".into())
        })?,
    };
    let recent = match i.recently_active.as_deref() {
        None => false,
        Some("PT3H") => true,
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'recentlyActive' failed to satisfy constraint: Member must satisfy enum value set: [PT3H]"
            )))
        }
    };
    Ok(ListQuery {
        namespace: i.namespace,
        name: i.metric_name,
        filters: i.dimensions.unwrap_or_default(),
        offset,
        recent,
    })
}

/// ListMetrics (spec §1.8): each instance's metrics that have data, filtered by namespace,
/// name and dimensions (a metric matches when it has every dimension named, with the value
/// where one is given), 500 a page.
fn list_metrics(call: &Call<'_>, q: ListQuery) -> Result<Value, CloudWatchError> {
    authorize(call, "cloudwatch:ListMetrics")?;
    let since = q.recent.then(|| model::time::now_ms() - 3 * 3_600_000);
    let mut found = Vec::new();
    for m in scope_series(call) {
        for metric in MetricName::ALL {
            let samples = metrics::samples(metric, &m.minutes);
            let active = samples
                .iter()
                .any(|s| since.is_none_or(|since| s.at_ms >= since));
            let matches = q
                .namespace
                .as_deref()
                .is_none_or(|n| n == metrics::NAMESPACE)
                && q.name.as_deref().is_none_or(|n| n == metric.as_str())
                && q.filters.iter().all(|f| {
                    f.name.as_deref() == Some(metrics::DIMENSION)
                        && f.value.as_deref().is_none_or(|v| v == m.instance_id)
                });
            if active && matches {
                found.push(json!({
                    "Namespace": metrics::NAMESPACE,
                    "MetricName": metric.as_str(),
                    "Dimensions": [{"Name": metrics::DIMENSION, "Value": m.instance_id}],
                }));
            }
        }
    }
    let page: Vec<Value> = found
        .iter()
        .skip(q.offset)
        .take(LIST_PAGE)
        .cloned()
        .collect();
    let mut out = json!({"Metrics": page});
    if q.offset.saturating_add(LIST_PAGE) < found.len() {
        out["NextToken"] = json!((q.offset + LIST_PAGE).to_string());
    }
    Ok(out)
}
