// The "IMDSv2 migration" page: every instance judged by its metadata traffic over a window
// (CloudWatch's MetadataNoToken through GetMetricData, signed here like any client's), the
// tokenless callers of the blocked ones (the server's attribution inside `imds exec`:
// GET /_imds/instances/{id}/callers), and, after a confirmation, IMDSv2 required on the
// safe ones through ModifyInstanceMetadataOptions. The verdict is `imds migrate plan`'s
// (model::migration::Verdict): done (already required), blocked (tokenless calls), unknown
// (no traffic), safe (traffic, every call with a token).

import { call, describeInstances } from "./ec2.js";
import { signRequest } from "./sigv4.js";
import { v1Callers } from "./callers.js";

const $ = (id) => document.getElementById(id);

/** GetMetricData in AWS JSON 1.0, signed for `monitoring`. */
async function getMetricData(session, input) {
  const body = JSON.stringify(input);
  const headers = await signRequest({
    creds: session, region: session.region, service: "monitoring", host: location.host, body,
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": "GraniteServiceVersion20100801.GetMetricData",
    },
  });
  const resp = await fetch("/", { method: "POST", headers, body, credentials: "omit", cache: "no-store" });
  const out = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const code = (resp.headers.get("x-amzn-query-error") || "").split(";")[0] || `HTTP${resp.status}`;
    throw new Error(`${code}: ${out.message || resp.statusText}`);
  }
  return out;
}

/** Per instance id: [active minutes, tokenless calls] over the window. */
async function traffic(session, ids, seconds) {
  const now = Math.floor(Date.now() / 1000);
  const period = Math.ceil(Math.max(seconds, 60) / 60) * 60;
  const out = new Map(ids.map((id) => [id, [0, 0]]));
  for (let at = 0; at < ids.length; at += 250) {
    const chunk = ids.slice(at, at + 250);
    const queries = chunk.flatMap((id, k) => ["SampleCount", "Sum"].map((stat, s) => ({
      Id: `${s ? "c" : "a"}${k}`,
      MetricStat: { Metric: { Namespace: "AWS/EC2", MetricName: "MetadataNoToken",
        Dimensions: [{ Name: "InstanceId", Value: id }] }, Period: period, Stat: stat },
    })));
    const r = await getMetricData(session, { MetricDataQueries: queries, StartTime: now - seconds, EndTime: now + 60 });
    for (const res of r.MetricDataResults || []) {
      const id = chunk[Number(res.Id.slice(1))];
      const total = (res.Values || []).reduce((a, b) => a + b, 0);
      out.get(id)[res.Id[0] === "a" ? 0 : 1] += total;
    }
  }
  return out;
}

function verdict(inst, [active, tokenless]) {
  if (inst.metadata.httpTokens === "required") return "done";
  if (tokenless > 0) return "blocked";
  if (active === 0) return "unknown";
  return "safe";
}

export class MigrationPage {
  constructor(session) {
    this.session = session;
    this.rows = [];
    // Handlers as properties: a page made again (after signing in again) replaces them.
    $("migration-window").onchange = () => this.load();
    $("migration-refresh").onclick = () => this.load();
    $("migration-apply").onclick = () => this.confirm();
    $("migration-cancel").onclick = () => $("migration-confirm").close();
    $("migration-confirm-form").onsubmit = (ev) => {
      ev.preventDefault();
      $("migration-confirm").close();
      this.apply();
    };
  }

  stop() {}

  async load() {
    const status = $("migration-status");
    const error = $("migration-error");
    error.hidden = true;
    status.textContent = "Reading the fleet's metadata traffic…";
    try {
      const seconds = Number($("migration-window").value);
      const sinceMs = Date.now() - seconds * 1000;
      const instances = (await describeInstances(this.session))
        .filter((i) => !["terminated", "shutting-down"].includes(i.state));
      const counts = await traffic(this.session, instances.map((i) => i.id), seconds);
      this.rows = [];
      for (const inst of instances) {
        const [active, tokenless] = counts.get(inst.id);
        const v = verdict(inst, [active, tokenless]);
        const callers = v === "blocked" ? await v1Callers(this.session, inst.id, sinceMs) : [];
        this.rows.push({ inst, v, tokenless, callers });
      }
      this.render();
      status.textContent = "";
    } catch (e) {
      status.textContent = "";
      error.textContent = String(e.message || e);
      error.hidden = false;
    }
  }

  render() {
    const body = $("migration-rows");
    body.replaceChildren();
    for (const { inst, v, tokenless, callers } of this.rows) {
      const tr = document.createElement("tr");
      tr.dataset.instanceId = inst.id;
      tr.dataset.verdict = v;
      const cells = [inst.name, inst.id, inst.state, inst.metadata.httpTokens, v,
        v === "blocked" ? String(tokenless) : ""];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const td = document.createElement("td");
      if (callers.length) {
        const details = document.createElement("details");
        const summary = document.createElement("summary");
        summary.textContent = `IMDSv1 callers (${callers.length})`;
        const list = document.createElement("ul");
        for (const c of callers) {
          const li = document.createElement("li");
          li.textContent = `${c.argv.join(" ") || c.command} — ${c.calls} call${c.calls === 1 ? "" : "s"}`;
          list.append(li);
        }
        details.append(summary, list);
        td.append(details);
      }
      tr.append(td);
      body.append(tr);
    }
    const n = (v) => this.rows.filter((r) => r.v === v).length;
    $("migration-summary").textContent =
      `${n("safe")} safe, ${n("blocked")} blocked, ${n("unknown")} unknown, ${n("done")} done`;
    const safe = n("safe");
    const button = $("migration-apply");
    button.disabled = safe === 0;
    button.textContent = `Require IMDSv2 on ${safe} safe instance${safe === 1 ? "" : "s"}…`;
  }

  confirm() {
    const safe = this.rows.filter((r) => r.v === "safe");
    $("migration-confirm-text").textContent =
      `Set HttpTokens=required on ${safe.length} instance${safe.length === 1 ? "" : "s"}: ` +
      safe.map((r) => r.inst.id).join(", ") + ". Tokenless calls to them will be refused.";
    $("migration-confirm").showModal();
  }

  async apply() {
    const safe = this.rows.filter((r) => r.v === "safe");
    const status = $("migration-status");
    let done = 0;
    const failed = [];
    for (const { inst } of safe) {
      status.textContent = `Requiring IMDSv2: ${done + failed.length + 1} of ${safe.length}…`;
      try {
        await call(this.session, "ModifyInstanceMetadataOptions", { InstanceId: inst.id, HttpTokens: "required" });
        done += 1;
      } catch (e) {
        failed.push(`${inst.id}: ${e.code}: ${e.message}`);
      }
    }
    await this.load();
    status.textContent = `IMDSv2 required on ${done} of ${safe.length} safe instances (${failed.length} failed).`;
    if (failed.length) {
      $("migration-error").textContent = failed.join("\n");
      $("migration-error").hidden = false;
    }
  }
}
