//! `imds migrate plan|apply` (issue 15, "the planner"): move a fleet to IMDSv2 safely.
//!
//! `plan` reads the instances (DescribeInstances, with `--filter`s) and their metadata traffic
//! over `--since` (CloudWatch's GetMetricData on `MetadataNoToken`: the minutes each instance
//! used the metadata service, and its tokenless calls), and judges each
//! (`model::migration::Verdict`): `safe` (traffic, every call with a token), `blocked` (it
//! made tokenless calls), `unknown` (no traffic to judge by), `done` (already required).
//! `apply` then sets `HttpTokens=required` (and `--hop-limit`) on the safe ones through the
//! EC2 API, so IAM, SCPs and `HttpTokensEnforced` apply as to anyone, with a progress bar,
//! waits until DescribeInstances says `applied`, and prints a summary; `--dry-run` asks the
//! API with `DryRun=true` instead (`DryRunOperation`: the change would be allowed). A second
//! `apply` finds the flipped instances `done` and changes nothing.
//!
//! Every call is a real API call to the running server, signed with the environment's
//! credentials as the aws CLI's would be (`exec::client`).

use crate::exec::client::{between, cloudwatch_json, ec2_query};
use crate::exec::{ExecError, ServerArgs};
use clap::{Args, Subcommand, ValueEnum};
use model::migration::Verdict;
use model::HttpTokens;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub what: MigrateCommand,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// For each instance: safe, blocked (tokenless calls), unknown (no traffic) or done.
    Plan(PlanArgs),
    /// Require IMDSv2 on the safe instances, wait until applied, and summarize.
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The Region of the fleet.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The window of traffic judged (e.g. 30m, 1h, 7d).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// DescribeInstances filters, as the aws CLI takes them: `Name=tag:team,Values=web,api`.
    #[arg(long)]
    pub filter: Vec<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Ask the API whether each change would be allowed (`DryRun=true`), change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also set `HttpPutResponseHopLimit` (2 for containers behind a bridge).
    #[arg(long)]
    pub hop_limit: Option<u8>,
    /// How long to wait for the changes to be `applied`.
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    pub wait: Duration,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// One instance of the plan.
#[derive(Debug, Clone)]
struct Planned {
    id: String,
    state: String,
    http_tokens: String,
    verdict: Verdict,
    /// A blocked instance's tokenless callers, where the server attributed them (inside
    /// `imds exec`): `imds report v1-callers`'s rows.
    callers: Vec<serde_json::Value>,
}

pub fn run(args: MigrateArgs) -> Result<i32, ExecError> {
    match args.what {
        MigrateCommand::Plan(p) => {
            let endpoint = p.server.api()?;
            let plan = plan(&endpoint, &p)?;
            print_plan(&plan, p.output);
            Ok(0)
        }
        MigrateCommand::Apply(a) => apply(a),
    }
}

fn plan(endpoint: &str, p: &PlanArgs) -> Result<Vec<Planned>, ExecError> {
    let instances = describe(endpoint, &p.region, &p.filter, None)?;
    let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
    let traffic = traffic(endpoint, &p.region, &ids, p.since)?;
    let since_ms = model::time::now_ms() - p.since.as_millis() as i64;
    Ok(instances
        .into_iter()
        .map(|i| {
            let tokens = HttpTokens::parse(&i.http_tokens).unwrap_or(HttpTokens::Optional);
            let (active, tokenless) = traffic.get(&i.id).copied().unwrap_or((0, 0));
            let verdict = Verdict::of(tokens, active, tokenless);
            // Who made the tokenless calls, where the server knows (calls outside `imds
            // exec` have no process to name).
            let callers = match verdict {
                Verdict::Blocked { .. } => {
                    crate::report::callers_of(endpoint, &i.id, since_ms).unwrap_or_default()
                }
                _ => Vec::new(),
            };
            Planned {
                verdict,
                id: i.id,
                state: i.state,
                http_tokens: i.http_tokens,
                callers,
            }
        })
        .collect())
}

fn print_plan(plan: &[Planned], output: Output) {
    match output {
        Output::Json => {
            let rows: Vec<_> = plan
                .iter()
                .map(|p| {
                    let mut row = json!({
                        "InstanceId": p.id,
                        "State": p.state,
                        "HttpTokens": p.http_tokens,
                        "Verdict": p.verdict.as_str(),
                    });
                    if let Verdict::Blocked { tokenless } = p.verdict {
                        row["TokenlessCalls"] = json!(tokenless);
                        row["Callers"] = json!(p.callers);
                    }
                    row
                })
                .collect();
            println!("{}", json!({ "Instances": rows }));
        }
        Output::Table => {
            println!(
                "{:<21} {:<9} {:<10} {:<8} tokenless calls",
                "instance", "state", "tokens", "verdict"
            );
            for p in plan {
                let calls = match p.verdict {
                    Verdict::Blocked { tokenless } => {
                        let commands: Vec<&str> = p
                            .callers
                            .iter()
                            .filter_map(|c| c["Command"].as_str())
                            .collect();
                        if commands.is_empty() {
                            tokenless.to_string()
                        } else {
                            format!("{tokenless} ({})", commands.join(", "))
                        }
                    }
                    _ => "-".into(),
                };
                println!(
                    "{:<21} {:<9} {:<10} {:<8} {calls}",
                    p.id,
                    p.state,
                    p.http_tokens,
                    p.verdict.as_str()
                );
            }
            println!("{}", counts(plan));
        }
    }
}

fn counts(plan: &[Planned]) -> String {
    let n = |v: &str| plan.iter().filter(|p| p.verdict.as_str() == v).count();
    format!(
        "{} safe, {} blocked, {} unknown, {} done",
        n("safe"),
        n("blocked"),
        n("unknown"),
        n("done")
    )
}

fn apply(a: ApplyArgs) -> Result<i32, ExecError> {
    let endpoint = a.plan.server.api()?;
    let plan = plan(&endpoint, &a.plan)?;
    let safe: Vec<&Planned> = plan.iter().filter(|p| p.verdict == Verdict::Safe).collect();
    let bar = indicatif::ProgressBar::new(safe.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (mut changed, mut failed) = (Vec::new(), Vec::new());
    for p in &safe {
        let mut body = format!(
            "Action=ModifyInstanceMetadataOptions&InstanceId={}&HttpTokens=required",
            p.id
        );
        if let Some(h) = a.hop_limit {
            body.push_str(&format!("&HttpPutResponseHopLimit={h}"));
        }
        if a.dry_run {
            body.push_str("&DryRun=true");
        }
        let (status, xml) = ec2_query(&endpoint, &a.plan.region, &body)?;
        match (status, code_of(&xml)) {
            (200, _) => changed.push(p.id.clone()),
            (_, Some(code)) if a.dry_run && code == "DryRunOperation" => changed.push(p.id.clone()),
            (_, code) => failed.push((
                p.id.clone(),
                code.unwrap_or_else(|| status.to_string()),
                between(&xml, "<Message>", "</Message>")
                    .unwrap_or_default()
                    .to_string(),
            )),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !a.dry_run && !changed.is_empty() {
        wait_applied(&endpoint, &a.plan.region, &changed, a.wait)?;
    }
    for (id, code, message) in &failed {
        eprintln!("{id}: {code}: {message}");
    }
    let verb = if a.dry_run {
        "would require"
    } else {
        "required"
    };
    println!(
        "IMDSv2 {verb} on {} of {} safe instances ({} failed); {}",
        changed.len(),
        safe.len(),
        failed.len(),
        counts(&plan)
    );
    Ok(if failed.is_empty() { 0 } else { 1 })
}

/// Wait until DescribeInstances says `applied` for every one of `ids`.
fn wait_applied(
    endpoint: &str,
    region: &str,
    ids: &[String],
    wait: Duration,
) -> Result<(), ExecError> {
    let deadline = Instant::now() + wait;
    loop {
        let described = describe(endpoint, region, &[], Some(ids))?;
        let pending: Vec<&Described> = described
            .iter()
            .filter(|d| d.options_state != "applied")
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(ExecError::Instance(format!(
                "{} instances still pending after {wait:?} (e.g. {})",
                pending.len(),
                pending[0].id
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The ids of every instance of `region` (not terminated).
pub(crate) fn instance_ids(endpoint: &str, region: &str) -> Result<Vec<String>, ExecError> {
    Ok(describe(endpoint, region, &[], None)?
        .into_iter()
        .map(|d| d.id)
        .collect())
}

/// What DescribeInstances says of one instance.
#[derive(Debug, Default, Clone)]
struct Described {
    id: String,
    state: String,
    http_tokens: String,
    options_state: String,
}

/// Every instance the filters select (not terminated), or those of `ids`, a page at a time.
fn describe(
    endpoint: &str,
    region: &str,
    filters: &[String],
    ids: Option<&[String]>,
) -> Result<Vec<Described>, ExecError> {
    let mut base = String::from("Action=DescribeInstances");
    match ids {
        Some(ids) => {
            for (k, id) in ids.iter().enumerate() {
                base.push_str(&format!("&InstanceId.{}={id}", k + 1));
            }
        }
        None => {
            base.push_str("&MaxResults=1000&Filter.1.Name=instance-state-name");
            for (k, s) in ["pending", "running", "stopping", "stopped"]
                .iter()
                .enumerate()
            {
                base.push_str(&format!("&Filter.1.Value.{}={s}", k + 1));
            }
            for (k, f) in filters.iter().enumerate() {
                base.push_str(&filter_params(k + 2, f)?);
            }
        }
    }
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = base.clone();
        if let Some(t) = &token {
            body.push_str(&format!("&NextToken={}", url_encode(t)));
        }
        let (status, xml) = ec2_query(endpoint, region, &body)?;
        if status != 200 {
            return Err(ExecError::Instance(format!(
                "DescribeInstances: {}: {}",
                code_of(&xml).unwrap_or_else(|| status.to_string()),
                between(&xml, "<Message>", "</Message>").unwrap_or_default()
            )));
        }
        let (page, next) = parse_described(&xml);
        out.extend(page);
        match next {
            Some(t) if ids.is_none() => token = Some(t),
            _ => return Ok(out),
        }
    }
}

/// `Name=tag:team,Values=web,api` as `Filter.N.Name`/`Filter.N.Value.M` parameters.
fn filter_params(n: usize, f: &str) -> Result<String, ExecError> {
    let bad = || ExecError::Instance(format!("--filter {f}: expected Name=NAME,Values=V1,V2"));
    let rest = f.strip_prefix("Name=").ok_or_else(bad)?;
    let (name, values) = rest.split_once(",Values=").ok_or_else(bad)?;
    let mut out = format!("&Filter.{n}.Name={}", url_encode(name));
    for (k, v) in values.split(',').enumerate() {
        out.push_str(&format!("&Filter.{n}.Value.{}={}", k + 1, url_encode(v)));
    }
    Ok(out)
}

/// The instances of a DescribeInstances answer, and its `nextToken`.
fn parse_described(xml: &str) -> (Vec<Described>, Option<String>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let (mut out, mut next) = (Vec::new(), None);
    let mut current = Described::default();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
            }
            Ok(Event::End(_)) => {
                let ended = path.pop();
                let in_instances = path.last().is_some_and(|p| p == "instancesSet");
                if ended.as_deref() == Some("item") && in_instances {
                    out.push(std::mem::take(&mut current));
                }
            }
            Ok(Event::Text(t)) => {
                let text = t.unescape().map(|c| c.into_owned()).unwrap_or_default();
                let tail: Vec<&str> = path.iter().rev().take(4).map(String::as_str).collect();
                match tail.as_slice() {
                    ["instanceId", "item", "instancesSet", ..] => current.id = text,
                    ["name", "instanceState", "item", "instancesSet"] => current.state = text,
                    ["httpTokens", "metadataOptions", "item", "instancesSet"] => {
                        current.http_tokens = text
                    }
                    ["state", "metadataOptions", "item", "instancesSet"] => {
                        current.options_state = text
                    }
                    ["nextToken", "DescribeInstancesResponse", ..] => next = Some(text),
                    _ => {}
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    (out, next)
}

/// Over the window: per instance, the minutes it used the metadata service and its
/// tokenless calls (CloudWatch `MetadataNoToken`: SampleCount and Sum), 250 instances a
/// GetMetricData call (two queries each, of the 500 allowed).
fn traffic(
    endpoint: &str,
    region: &str,
    ids: &[String],
    since: Duration,
) -> Result<HashMap<String, (u64, u64)>, ExecError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let period = (since.as_secs().max(60)).div_ceil(60) * 60;
    let start = now - since.as_secs() as i64;
    let mut out = HashMap::new();
    for chunk in ids.chunks(250) {
        let queries: Vec<_> = chunk
            .iter()
            .enumerate()
            .flat_map(|(k, id)| {
                let metric = json!({"Namespace": "AWS/EC2", "MetricName": "MetadataNoToken",
                    "Dimensions": [{"Name": "InstanceId", "Value": id}]});
                [("a", "SampleCount"), ("c", "Sum")].map(|(p, stat)| {
                    json!({"Id": format!("{p}{k}"), "ReturnData": true,
                        "MetricStat": {"Metric": metric, "Period": period, "Stat": stat}})
                })
            })
            .collect();
        let body = json!({"MetricDataQueries": queries, "StartTime": start, "EndTime": now + 60});
        let (status, text) = cloudwatch_json(endpoint, region, "GetMetricData", &body.to_string())?;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if status != 200 {
            return Err(ExecError::Instance(format!(
                "GetMetricData: {status}: {}",
                v["message"].as_str().unwrap_or(&text)
            )));
        }
        for r in v["MetricDataResults"].as_array().into_iter().flatten() {
            let id = r["Id"].as_str().unwrap_or_default();
            let Some(k) = id.get(1..).and_then(|k| k.parse::<usize>().ok()) else {
                continue;
            };
            let total: f64 = r["Values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_f64())
                .sum();
            let entry = out.entry(chunk[k].clone()).or_insert((0, 0));
            if id.starts_with('a') {
                entry.0 += total as u64;
            } else {
                entry.1 += total as u64;
            }
        }
    }
    Ok(out)
}

/// A Query parameter's value, percent-encoded (RFC 3986's unreserved characters kept).
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn code_of(xml: &str) -> Option<String> {
    between(xml, "<Code>", "</Code>").map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_instances_of_a_describe_answer() {
        let xml = r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><reservationSet><item><instancesSet>
<item><instanceId>i-1</instanceId><instanceState><code>16</code><name>running</name></instanceState>
<tagSet><item><key>Name</key><value>x</value></item></tagSet>
<metadataOptions><state>pending</state><httpTokens>required</httpTokens></metadataOptions></item>
<item><instanceId>i-2</instanceId><instanceState><name>stopped</name></instanceState><metadataOptions><state>applied</state><httpTokens>optional</httpTokens></metadataOptions></item>
</instancesSet></item></reservationSet><nextToken>abc</nextToken></DescribeInstancesResponse>"#;
        let (got, next) = parse_described(xml);
        let rows: Vec<_> = got
            .iter()
            .map(|d| {
                (
                    d.id.as_str(),
                    d.state.as_str(),
                    d.http_tokens.as_str(),
                    d.options_state.as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("i-1", "running", "required", "pending"),
                ("i-2", "stopped", "optional", "applied")
            ]
        );
        assert_eq!(next.as_deref(), Some("abc"));
    }

    #[test]
    fn filters_as_the_aws_cli_writes_them() {
        assert_eq!(
            filter_params(2, "Name=tag:team,Values=web,api").unwrap(),
            "&Filter.2.Name=tag%3Ateam&Filter.2.Value.1=web&Filter.2.Value.2=api"
        );
        assert!(filter_params(2, "tag:team=web").is_err());
    }
}
