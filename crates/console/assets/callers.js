// IMDSv1 callers: the processes that called an instance's metadata service without a token,
// as the server attributed them inside `imds exec` (GET /_imds/instances/{id}/callers,
// signed like the console's other requests; what `imds report v1-callers` reads).

import { signRequest } from "./sigv4.js";

const $ = (id) => document.getElementById(id);

/** One row per process (pid and argv) that made tokenless calls since `sinceMs`. */
export async function v1Callers(session, id, sinceMs = 0) {
  const path = `/_imds/instances/${id}/callers`;
  const headers = await signRequest({
    creds: session, region: session.region, service: "ec2", host: location.host,
    method: "GET", path, body: "",
  });
  const resp = await fetch(path, { headers, credentials: "omit", cache: "no-store" });
  if (!resp.ok) return [];
  const doc = await resp.json();
  const by = new Map();
  for (const c of doc.Calls || []) {
    if (c.kind !== "v1" || c.at_ms < sinceMs) continue;
    const o = c.origin || { command: "(unknown)", argv: [], pid: 0, parents: [] };
    const key = `${o.pid} ${o.argv.join(" ")}`;
    const row = by.get(key) || { command: o.command, argv: o.argv, parents: o.parents || [],
      calls: 0, refused: 0, lastPath: "" };
    row.calls += 1;
    if (c.status === 401) row.refused += 1;
    row.lastPath = c.path;
    by.set(key, row);
  }
  return [...by.values()];
}

/** The "IMDSv1 callers" dialog of instance `id`; focus goes back to `opener` on close. */
export async function showCallers(session, id, opener) {
  const dlg = $("callers-dialog");
  const list = $("callers-list");
  $("callers-for").textContent = `Processes that called ${id}'s metadata service without a token.`;
  list.replaceChildren();
  $("callers-empty").hidden = true;
  dlg.onclose = () => opener?.focus();
  $("callers-close").onclick = () => dlg.close();
  dlg.showModal();
  const rows = await v1Callers(session, id);
  for (const r of rows) {
    const li = document.createElement("li");
    const parents = r.parents.map((p) => p.command).join(" ← ");
    li.textContent = `${r.argv.join(" ") || r.command} — ${r.calls} call${r.calls === 1 ? "" : "s"}` +
      `${r.refused ? ` (${r.refused} refused)` : ""}, last ${r.lastPath}` +
      (parents ? `; started by ${parents}` : "");
    list.append(li);
  }
  $("callers-empty").hidden = rows.length > 0;
}
