//! `imds report v1-callers` (issue 15): which processes still call the metadata service
//! without a token, per instance, from the calls the server attributed to their process
//! inside `imds exec` (`GET /_imds/instances/{id}/callers`; `metadata::callers`), over
//! `--since`: each command with its argv and parent chain, how many tokenless calls it made,
//! how many were answered and refused, and the last path and time.

use crate::exec::client::get;
use crate::exec::{ExecError, ServerArgs};
use crate::migrate::Output;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub what: ReportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The processes that called the metadata service without a token (inside `imds exec`).
    #[command(name = "v1-callers")]
    V1Callers(V1CallersArgs),
}

#[derive(Debug, Args)]
pub struct V1CallersArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The Region of the instances.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// One instance (default: every instance of the Region).
    #[arg(long)]
    pub instance: Option<String>,
    /// How far back (e.g. 30m, 1h, 7d).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub since: Duration,
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
}

pub fn run(args: ReportArgs) -> Result<i32, ExecError> {
    let ReportCommand::V1Callers(a) = args.what;
    let endpoint = a.server.api()?;
    let ids = match &a.instance {
        Some(id) => vec![id.clone()],
        None => crate::migrate::instance_ids(&endpoint, &a.region)?,
    };
    let since_ms = model::time::now_ms() - a.since.as_millis() as i64;
    let mut rows = Vec::new();
    for id in ids {
        match callers_of(&endpoint, &id, since_ms) {
            Ok(found) => rows.extend(found),
            // Not served on this node (or gone): nothing to report.
            Err(ExecError::Api(_, e)) if e.starts_with("404") && a.instance.is_none() => continue,
            Err(e) => return Err(e),
        }
    }
    match a.output {
        Output::Json => println!("{}", json!({ "Callers": rows })),
        Output::Table => {
            println!(
                "{:<21} {:<6} {:>8} {:>7} {:<24} command (parents)",
                "instance", "calls", "answered", "refused", "last path"
            );
            for r in &rows {
                let parents: Vec<&str> = r["Parents"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["Command"].as_str())
                    .collect();
                println!(
                    "{:<21} {:<6} {:>8} {:>7} {:<24} {} ({})",
                    r["InstanceId"].as_str().unwrap_or_default(),
                    r["Calls"],
                    r["Answered"],
                    r["Refused"],
                    r["LastPath"].as_str().unwrap_or_default(),
                    r["Argv"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" "))
                        .unwrap_or_default(),
                    parents.join(" < ")
                );
            }
            if rows.is_empty() {
                println!("no tokenless calls attributed in the window");
            }
        }
    }
    Ok(0)
}

/// The tokenless callers of instance `id` since `since_ms`, as the server attributed them.
pub(crate) fn callers_of(endpoint: &str, id: &str, since_ms: i64) -> Result<Vec<Value>, ExecError> {
    let text = get(endpoint, &format!("/_imds/instances/{id}/callers"))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| ExecError::Instance(format!("callers of {id}: {e}")))?;
    Ok(v1_callers(id, &v, since_ms))
}

/// The tokenless callers of one instance's calls since `since_ms`, one row per process
/// (command, argv, parent chain), in order of first call.
pub(crate) fn v1_callers(id: &str, v: &Value, since_ms: i64) -> Vec<Value> {
    let mut by_caller: BTreeMap<String, Value> = BTreeMap::new();
    let mut order = Vec::new();
    for call in v["Calls"].as_array().into_iter().flatten() {
        if call["kind"] != "v1" || call["at_ms"].as_i64().unwrap_or(0) < since_ms {
            continue;
        }
        let origin = &call["origin"];
        let parents: Vec<Value> = origin["parents"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| json!({"Pid": p["pid"], "Command": p["command"], "Argv": p["argv"]}))
            .collect();
        let key = format!("{}|{}|{}", origin["command"], origin["argv"], origin["pid"]);
        let row = by_caller.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            json!({
                "InstanceId": id,
                "Pid": origin["pid"],
                "Command": origin["command"].as_str().unwrap_or("(unknown)"),
                "Argv": origin["argv"],
                "Parents": parents,
                "Calls": 0, "Answered": 0, "Refused": 0,
            })
        });
        row["Calls"] = json!(row["Calls"].as_u64().unwrap_or(0) + 1);
        let status = call["status"].as_u64().unwrap_or(0);
        let field = if status == 200 { "Answered" } else { "Refused" };
        if status == 200 || status == 401 {
            row[field] = json!(row[field].as_u64().unwrap_or(0) + 1);
        }
        row["LastPath"] = call["path"].clone();
        row["LastSeen"] = json!(model::time::iso8601(
            call["at_ms"].as_i64().unwrap_or(0),
            false
        ));
    }
    order
        .into_iter()
        .filter_map(|k| by_caller.remove(&k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_tokenless_calls_by_process() {
        let call = |kind: &str, pid: u32, command: &str, status: u16, at: i64| {
            json!({"at_ms": at, "method": "GET", "path": "/latest/meta-data/", "kind": kind,
                   "status": status, "origin": {"pid": pid, "command": command,
                   "argv": [command, "-c"], "parents": [{"pid": 7, "command": "sh", "argv": ["sh"]}]}})
        };
        let v = json!({"Calls": [
            call("v1", 10, "python3", 200, 5_000),
            call("v2", 11, "curl", 200, 5_000),
            call("v1", 10, "python3", 401, 6_000),
            call("v1", 12, "old", 200, 1_000),
        ]});
        let rows = v1_callers("i-1", &v, 2_000);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r["Command"].as_str(), r["Calls"].as_u64()),
            (Some("python3"), Some(2))
        );
        assert_eq!(
            (r["Answered"].as_u64(), r["Refused"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(r["Parents"][0]["Command"], "sh");
    }
}
