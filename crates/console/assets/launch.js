// Launch instance, with Advanced details: the metadata options this launch would resolve to.

import { call, children, child } from "./ec2.js";
import { showError } from "./ui.js";

const $ = (id) => document.getElementById(id);
/** EC2's built-in options (model::options::MetadataOptions::BUILT_IN). */
const BUILT_IN = { endpoint: "enabled", tokens: "optional", hop: "1", tags: "disabled" };
const CONTROLS = [
  ["l-endpoint", "endpoint", "MetadataOptions.HttpEndpoint"],
  ["l-tokens", "tokens", "MetadataOptions.HttpTokens"],
  ["l-hop", "hop", "MetadataOptions.HttpPutResponseHopLimit"],
  ["l-tags", "tags", "MetadataOptions.InstanceMetadataTags"],
];

/**
 * Per option, first hit wins: the account default (unless no preference), the image when its
 * ImdsSupport is v2.0 (tokens required, hop limit 2), EC2's default (model::precedence).
 */
export function resolve(account, imdsSupport) {
  const v2 = imdsSupport === "v2.0";
  const pick = (a, ami, b) => (a && a !== "no-preference" ? a : v2 && ami ? ami : b);
  return {
    endpoint: pick(account.httpEndpoint, "", BUILT_IN.endpoint),
    tokens: pick(account.httpTokens, "required", BUILT_IN.tokens),
    hop: pick(account.httpPutResponseHopLimit === "-1" ? "" : account.httpPutResponseHopLimit, "2", BUILT_IN.hop),
    tags: pick(account.instanceMetadataTags, "", BUILT_IN.tags),
  };
}

export class LaunchPage {
  constructor(session, onLaunched) {
    this.session = session;
    this.onLaunched = onLaunched;
    this.images = new Map();
    this.account = {};
    this.shown = {};
    this.onSubmit = (e) => { e.preventDefault(); this.launch(); };
    this.onImage = () => this.showDefaults();
    $("launch-form").addEventListener("submit", this.onSubmit);
    $("l-image").addEventListener("change", this.onImage);
  }

  stop() {
    $("launch-form").removeEventListener("submit", this.onSubmit);
    $("l-image").removeEventListener("change", this.onImage);
  }

  async load() {
    $("launch-error").hidden = true;
    $("launch-status").textContent = "";
    try {
      const [imgs, defs] = await Promise.all([
        call(this.session, "DescribeImages"),
        call(this.session, "GetInstanceMetadataDefaults"),
      ]);
      const level = children(defs.documentElement, "accountLevel")[0];
      this.account = {};
      for (const n of ["httpEndpoint", "httpTokens", "httpPutResponseHopLimit", "instanceMetadataTags"]) {
        this.account[n] = level ? child(level, n) : "";
      }
      const select = $("l-image");
      const keep = select.value;
      select.replaceChildren();
      this.images.clear();
      for (const set of children(imgs.documentElement, "imagesSet")) {
        for (const it of children(set, "item")) {
          const id = child(it, "imageId");
          const support = child(it, "imdsSupport");
          this.images.set(id, support);
          const o = document.createElement("option");
          o.value = id;
          o.textContent = `${child(it, "description") || child(it, "name")} (${id})${support ? ` · ImdsSupport ${support}` : ""}`;
          select.append(o);
        }
      }
      if (keep && this.images.has(keep)) select.value = keep;
      this.showDefaults();
    } catch (e) {
      showError($("launch-error"), e);
    }
  }

  showDefaults() {
    this.shown = resolve(this.account, this.images.get($("l-image").value) || "");
    for (const [id, key] of CONTROLS) $(id).value = this.shown[key];
  }

  async launch() {
    const err = $("launch-error");
    err.hidden = true;
    const hop = $("l-hop").value.trim();
    if (!/^\d+$/.test(hop) || +hop < 1 || +hop > 64) {
      showError(err, { code: "InvalidParameterValue", message: "The hop limit must be a whole number from 1 to 64." });
      $("l-hop").focus();
      return;
    }
    const params = { ImageId: $("l-image").value, InstanceType: $("l-type").value, MinCount: 1, MaxCount: 1 };
    for (const [id, key, param] of CONTROLS) {
      if ($(id).value !== this.shown[key]) params[param] = $(id).value;
    }
    const name = $("l-name").value.trim();
    if (name) {
      params["TagSpecification.1.ResourceType"] = "instance";
      params["TagSpecification.1.Tag.1.Key"] = "Name";
      params["TagSpecification.1.Tag.1.Value"] = name;
    }
    $("launch-submit").disabled = true;
    try {
      const doc = await call(this.session, "RunInstances", params);
      const id = doc.getElementsByTagName("instanceId")[0]?.textContent || "";
      $("launch-status").textContent = `Launched ${id}.`;
      this.onLaunched(id);
    } catch (e) {
      showError(err, e);
    } finally {
      $("launch-submit").disabled = false;
    }
  }
}
