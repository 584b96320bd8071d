// IMDSv1 (tokenless) calls per instance, from the server's Prometheus text at /metrics:
// imds_metadata_no_token_total (CloudWatch's MetadataNoToken) and
// imds_metadata_no_token_rejected_total (MetadataNoTokenRejected).
//
// /metrics is not behind IAM; the console only shows the counts of the instances that
// DescribeInstances (which is) returned to the signed-in principal.

const LINE = /^imds_metadata_(no_token|no_token_rejected)_total\{instance_id="([^"]+)"\} (\d+)/;

/** Map of instance id → {noToken, rejected}; empty when /metrics cannot be read. */
export async function imdsv1Counts() {
  const out = new Map();
  let text;
  try {
    const resp = await fetch("/metrics", { credentials: "omit", cache: "no-store" });
    if (!resp.ok) return out;
    text = await resp.text();
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const c = out.get(m[2]) || { noToken: 0, rejected: 0 };
    if (m[1] === "no_token") c.noToken = Number(m[3]);
    else c.rejected = Number(m[3]);
    out.set(m[2], c);
  }
  return out;
}
