// Account attributes → IMDS defaults: GetInstanceMetadataDefaults / ModifyInstanceMetadataDefaults.

import { call, children, child } from "./ec2.js";
import { showError } from "./ui.js";

const $ = (id) => document.getElementById(id);
const FIELDS = [
  ["d-endpoint", "HttpEndpoint", "httpEndpoint"],
  ["d-tokens", "HttpTokens", "httpTokens"],
  ["d-tags", "InstanceMetadataTags", "instanceMetadataTags"],
  ["d-enforced", "HttpTokensEnforced", "httpTokensEnforced"],
];

export class DefaultsPage {
  constructor(session) {
    this.session = session;
    this.onSubmit = (e) => { e.preventDefault(); this.save(); };
    $("defaults-form").addEventListener("submit", this.onSubmit);
  }

  stop() { $("defaults-form").removeEventListener("submit", this.onSubmit); }

  async load() {
    $("defaults-error").hidden = true;
    try {
      const doc = await call(this.session, "GetInstanceMetadataDefaults");
      const level = children(doc.documentElement, "accountLevel")[0];
      const get = (n) => (level ? child(level, n) : "");
      for (const [id, , xml] of FIELDS) $(id).value = get(xml) || "no-preference";
      $("d-hop").value = get("httpPutResponseHopLimit");
    } catch (e) {
      showError($("defaults-error"), e);
    }
  }

  async save() {
    const err = $("defaults-error");
    err.hidden = true;
    $("defaults-status").textContent = "";
    const hop = $("d-hop").value.trim();
    if (hop && (!/^\d+$/.test(hop) || +hop < 1 || +hop > 64)) {
      showError(err, { code: "InvalidParameterValue", message: "The hop limit must be a whole number from 1 to 64, or empty for no preference." });
      $("d-hop").focus();
      return;
    }
    const params = { HttpPutResponseHopLimit: hop || "-1" };
    for (const [id, param] of FIELDS) params[param] = $(id).value;
    $("defaults-save").disabled = true;
    try {
      await call(this.session, "ModifyInstanceMetadataDefaults", params);
      $("defaults-status").textContent = "Saved. New launches in this Region use these defaults.";
      await this.load();
    } catch (e) {
      showError(err, e);
    } finally {
      $("defaults-save").disabled = false;
    }
  }
}
