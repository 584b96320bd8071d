//! `/metrics` on the API port (Prometheus text) and `imds stats`.
//!
//! Per instance, as EC2's CloudWatch metrics count them: `MetadataNoToken` (successful IMDSv1
//! accesses) as `imds_metadata_no_token_total`, `MetadataNoTokenRejected` as
//! `imds_metadata_no_token_rejected_total`; plus all metadata requests and tokens issued; and
//! the calls made inside `imds exec` by command and kind (`imds_metadata_calls_total`).
//! The registry is built from the metadata host's counters at each scrape.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabel {
    instance_id: String,
}

/// A call inside `imds exec`: the instance, the command that made it, and how (`v1`, `v2`,
/// `token`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallerLabel {
    instance_id: String,
    command: String,
    kind: String,
}

/// The Prometheus text of every counter of `host`.
pub fn render(host: &metadata::Host) -> String {
    let mut registry = Registry::default();
    let families: [(&str, &str, Family<InstanceLabel, Counter>); 4] = [
        ("imds_metadata_requests", "Requests to the instance metadata service", Family::default()),
        ("imds_metadata_no_token", "Successful instance metadata requests without a token (CloudWatch MetadataNoToken)", Family::default()),
        ("imds_metadata_no_token_rejected", "Requests without a token refused because IMDSv2 is required (CloudWatch MetadataNoTokenRejected)", Family::default()),
        ("imds_metadata_tokens_issued", "IMDSv2 session tokens issued", Family::default()),
    ];
    for (id, c) in host.counters() {
        let label = InstanceLabel { instance_id: id };
        let values = [c.requests, c.no_token, c.no_token_rejected, c.tokens_issued];
        for ((_, _, family), v) in families.iter().zip(values) {
            family.get_or_create(&label).inc_by(v);
        }
    }
    for (name, help, family) in families {
        registry.register(name, help, family);
    }
    let calls = Family::<CallerLabel, Counter>::default();
    for (id, counts) in host.call_counts() {
        for (command, kind, n) in counts {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let label = CallerLabel {
                instance_id: id.clone(),
                command,
                kind,
            };
            calls.get_or_create(&label).inc_by(n);
        }
    }
    registry.register(
        "imds_metadata_calls",
        "Metadata requests made inside imds exec, by the command that made them and how (v1: without a token)",
        calls,
    );
    let mut out = String::new();
    if encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

/// One line per instance from a Prometheus text: `imds stats`.
pub fn stats_lines(text: &str) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut rows: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    let names = [
        "imds_metadata_requests_total",
        "imds_metadata_no_token_total",
        "imds_metadata_no_token_rejected_total",
        "imds_metadata_tokens_issued_total",
    ];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((metric, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some((name, labels)) = metric.split_once('{') else {
            continue;
        };
        let Some(col) = names.iter().position(|n| *n == name) else {
            continue;
        };
        let id = labels
            .trim_end_matches('}')
            .trim_start_matches("instance_id=")
            .trim_matches('"')
            .to_string();
        rows.entry(id).or_default()[col] = value.parse::<f64>().unwrap_or(0.0) as u64;
    }
    rows.into_iter()
        .map(|(id, [r, nt, ntr, t])| format!("{id}  requests={r}  MetadataNoToken={nt}  MetadataNoTokenRejected={ntr}  tokens={t}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_from_text() {
        let text = "# HELP x\nimds_metadata_requests_total{instance_id=\"i-1\"} 5\nimds_metadata_no_token_total{instance_id=\"i-1\"} 2\nimds_metadata_no_token_rejected_total{instance_id=\"i-1\"} 1\nimds_metadata_tokens_issued_total{instance_id=\"i-1\"} 3\n";
        assert_eq!(
            stats_lines(text),
            vec![
                "i-1  requests=5  MetadataNoToken=2  MetadataNoTokenRejected=1  tokens=3"
                    .to_string()
            ]
        );
    }
}
