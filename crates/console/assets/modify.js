// Actions → Instance settings → Modify instance metadata options (ModifyInstanceMetadataOptions).

import { call } from "./ec2.js";
import { showError } from "./ui.js";

const $ = (id) => document.getElementById(id);

/** What a person should read for the codes this dialog can meet; the AWS message follows. */
const EXPLAIN = {
  UnauthorizedOperation: "You are not allowed to change this instance's metadata options.",
  InvalidParameterValue: "One of the values is not accepted.",
  InvalidParameterCombination: "These settings cannot be used together.",
  InvalidInstanceIDNotFound: "The instance no longer exists.",
  "InvalidInstanceID.NotFound": "The instance no longer exists.",
  UnsupportedOperation: "This instance does not support that setting.",
  IncorrectInstanceState: "The instance's state does not allow this change now.",
};

export class ModifyDialog {
  constructor(session, onSaved) {
    this.session = session;
    this.onSaved = onSaved;
    this.dlg = $("modify-dialog");
    this.instance = null;
    this.opener = null;
    if (!this.dlg.dataset.wired) {
      this.dlg.dataset.wired = "1";
      $("modify-form").addEventListener("submit", (e) => { e.preventDefault(); this.dlg.current?.save(); });
      $("modify-cancel").addEventListener("click", () => this.dlg.current?.close());
      $("m-endpoint").addEventListener("change", () => this.dlg.current?.syncEnabled());
      this.dlg.addEventListener("close", () => this.dlg.current?.restoreFocus());
      this.dlg.addEventListener("keydown", (e) => this.dlg.current?.trapFocus(e));
    }
  }

  open(inst, opener) {
    this.dlg.current = this;
    this.instance = inst;
    this.opener = opener;
    const m = inst.metadata;
    $("modify-instance").textContent = `${inst.name ? inst.name + " " : ""}(${inst.id})`;
    $("m-endpoint").checked = m.httpEndpoint !== "disabled";
    $(m.httpTokens === "required" ? "m-tokens-required" : "m-tokens-optional").checked = true;
    $("m-hop").value = m.hopLimit || "1";
    $("m-ipv6").checked = m.ipv6 === "enabled";
    $("m-tags").checked = m.tags === "enabled";
    $("modify-error").hidden = true;
    $("modify-save").disabled = false;
    this.syncEnabled();
    this.dlg.showModal(); // modal: the page behind is inert; Esc closes
    $("m-endpoint").focus();
  }

  syncEnabled() {
    const on = $("m-endpoint").checked;
    for (const id of ["m-tokens-optional", "m-tokens-required", "m-hop", "m-ipv6", "m-tags"]) {
      $(id).disabled = !on;
    }
  }

  close() { this.dlg.close(); }

  restoreFocus() {
    if (this.opener && this.opener.isConnected) this.opener.focus();
  }

  /** Tab and Shift+Tab cycle within the dialog. */
  trapFocus(e) {
    if (e.key !== "Tab") return;
    const f = Array.from(this.dlg.querySelectorAll("input, button"))
      .filter((el) => !el.disabled && el.offsetParent !== null);
    if (!f.length) return;
    const firstEl = f[0], lastEl = f[f.length - 1];
    if (e.shiftKey && document.activeElement === firstEl) { e.preventDefault(); lastEl.focus(); }
    else if (!e.shiftKey && document.activeElement === lastEl) { e.preventDefault(); firstEl.focus(); }
  }

  async save() {
    const err = $("modify-error");
    err.hidden = true;
    const enabled = $("m-endpoint").checked;
    const params = { InstanceId: this.instance.id, HttpEndpoint: enabled ? "enabled" : "disabled" };
    if (enabled) {
      const hop = $("m-hop").value.trim();
      if (!/^\d+$/.test(hop) || +hop < 1 || +hop > 64) {
        showError(err, { code: "InvalidParameterValue", message: "The hop limit must be a whole number from 1 to 64." });
        $("m-hop").focus();
        return;
      }
      params.HttpTokens = $("m-tokens-required").checked ? "required" : "optional";
      params.HttpPutResponseHopLimit = hop;
      params.HttpProtocolIpv6 = $("m-ipv6").checked ? "enabled" : "disabled";
      params.InstanceMetadataTags = $("m-tags").checked ? "enabled" : "disabled";
    }
    $("modify-save").disabled = true;
    try {
      await call(this.session, "ModifyInstanceMetadataOptions", params);
    } catch (e) {
      $("modify-save").disabled = false;
      const words = EXPLAIN[e.code];
      showError(err, { code: e.code, message: words ? `${words} ${e.message}` : e.message });
      err.focus?.();
      return;
    }
    this.close();
    this.onSaved();
  }
}
