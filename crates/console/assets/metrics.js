// IMDSv1 (tokenless) calls per instance, from the server's Prometheus text at /metrics:
// imds_metadata_no_token_total (CloudWatch's MetadataNoToken) and
// imds_metadata_no_token_rejected_total (MetadataNoTokenRejected).
//
// The read is signed like the console's other requests: with --iam-config and the API off
// loopback, /metrics answers only a caller allowed imds:GetMetrics (on loopback it is open
// and the signature is not looked at). The console shows only the counts of the instances
// that DescribeInstances returned to the signed-in principal.

import { signRequest } from "./sigv4.js";

const LINE = /^imds_metadata_(no_token|no_token_rejected)_total\{instance_id="([^"]+)"\} (\d+)/;

/** Map of instance id → {noToken, rejected}; empty when /metrics cannot be read. */
export async function imdsv1Counts(session) {
  const out = new Map();
  let text;
  try {
    const headers = await signRequest({
      creds: session, region: session.region, service: "ec2", host: location.host,
      method: "GET", path: "/metrics", body: "",
    });
    const resp = await fetch("/metrics", { headers, credentials: "omit", cache: "no-store" });
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
