// The Instances page: DescribeInstances as a table with filter, sort, selection and polling.

import { describeInstances } from "./ec2.js";
import { imdsv1Counts } from "./metrics.js";
import { showError } from "./ui.js";
import { showCallers } from "./callers.js";

const $ = (id) => document.getElementById(id);
const POLL_PENDING_MS = 1000;
const POLL_IDLE_MS = 10000;

/** The value of column `key` of instance `i`, as shown. */
function cell(i, key) {
  const m = i.metadata;
  switch (key) {
    case "httpEndpoint": return m.httpEndpoint;
    case "httpTokens": return m.httpTokens;
    case "hopLimit": return m.hopLimit;
    case "ipv6": return m.ipv6;
    case "tags": return m.tags;
    case "optionsState": return m.state;
    case "imdsv1": return i.imdsv1 ?? "";
    default: return i[key] ?? "";
  }
}

const COLUMNS = ["name", "id", "state", "type", "privateIp", "httpEndpoint", "httpTokens",
  "hopLimit", "ipv6", "tags", "optionsState", "imdsv1"];

export class InstancesPage {
  constructor(session, dialog) {
    this.session = session;
    this.dialog = dialog;
    this.items = [];
    this.selected = null;
    this.sort = { key: "name", dir: 1 };
    this.timer = null;
    this.stopped = false;
    this.listeners = [];
    this.on($("filter"), "input", () => this.render());
    this.on($("refresh"), "click", () => this.refresh());
    for (const th of document.querySelectorAll("#instance-table th[data-key]")) {
      this.on(th.querySelector("button"), "click", () => this.sortBy(th.dataset.key));
    }
    this.on($("actions-button"), "click", () => this.toggleMenu());
    // The WAI-ARIA menu button pattern: ArrowDown/ArrowUp on the button open the menu; in the
    // menu the arrows, Home and End move between items, Esc closes it and returns focus.
    this.on($("actions-button"), "keydown", (e) => {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); this.toggleMenu(true); }
    });
    this.on($("actions-menu"), "keydown", (e) => {
      if (e.key === "Escape") { this.toggleMenu(false); $("actions-button").focus(); }
      if (e.key === "Tab") this.toggleMenu(false);
      const items = [...$("actions-menu").querySelectorAll('[role="menuitem"]:not([disabled])')];
      const at = items.indexOf(document.activeElement);
      const go = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 }[e.key];
      if (go !== undefined && items.length) {
        e.preventDefault();
        items[(go + items.length) % items.length].focus();
      }
    });
    this.on(document, "click", (e) => {
      if (!e.target.closest(".menu")) this.toggleMenu(false);
    });
    this.on($("action-modify-metadata"), "click", () => {
      this.toggleMenu(false);
      const inst = this.items.find((i) => i.id === this.selected);
      if (inst) this.dialog.open(inst, $("actions-button"));
    });
    this.on($("action-v1-callers"), "click", () => {
      this.toggleMenu(false);
      if (this.selected) showCallers(this.session, this.selected, $("actions-button"));
    });
  }

  on(el, ev, fn) {
    el.addEventListener(ev, fn);
    this.listeners.push([el, ev, fn]);
  }

  start() { this.refresh(); }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const [el, ev, fn] of this.listeners) el.removeEventListener(ev, fn);
  }

  toggleMenu(force) {
    const menu = $("actions-menu");
    const open = force ?? menu.hidden;
    menu.hidden = !open;
    $("actions-button").setAttribute("aria-expanded", String(open));
    $("action-modify-metadata").disabled = !this.selected;
    $("action-v1-callers").disabled = !this.selected;
    if (open) $("action-modify-metadata").focus();
  }

  async refresh() {
    clearTimeout(this.timer);
    const err = $("list-error");
    try {
      const [items, counts] = await Promise.all([describeInstances(this.session), imdsv1Counts(this.session)]);
      for (const i of items) {
        const c = counts.get(i.id);
        i.imdsv1 = c ? c.noToken : 0;
        i.imdsv1Rejected = c ? c.rejected : 0;
      }
      this.items = items;
      err.hidden = true;
    } catch (e) {
      showError(err, e);
    }
    if (this.stopped) return;
    this.render();
    const pending = this.items.some((i) => i.metadata.state === "pending" || i.state === "pending");
    this.timer = setTimeout(() => this.refresh(), pending ? POLL_PENDING_MS : POLL_IDLE_MS);
  }

  sortBy(key) {
    this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : 1 };
    this.render();
  }

  select(id) {
    this.selected = this.selected === id ? null : id;
    this.render();
  }

  render() {
    const q = $("filter").value.trim().toLowerCase();
    const { key, dir } = this.sort;
    const rows = this.items
      .filter((i) => !q || COLUMNS.some((c) => String(cell(i, c)).toLowerCase().includes(q)))
      .sort((a, b) => {
        const x = cell(a, key), y = cell(b, key);
        const n = Number(x) - Number(y);
        return dir * (Number.isNaN(n) || x === "" || y === "" ? String(x).localeCompare(String(y)) : n);
      });
    for (const th of document.querySelectorAll("#instance-table th[data-key]")) {
      th.setAttribute("aria-sort", th.dataset.key === key ? (dir > 0 ? "ascending" : "descending") : "none");
    }
    $("count").textContent = `(${rows.length}${rows.length !== this.items.length ? ` of ${this.items.length}` : ""})`;
    const body = $("instance-rows");
    body.replaceChildren(...rows.map((i) => this.row(i)));
    $("empty").hidden = rows.length > 0;
    $("action-modify-metadata").disabled = !this.selected;
    $("action-v1-callers").disabled = !this.selected;
  }

  row(i) {
    const tr = document.createElement("tr");
    tr.dataset.instanceId = i.id;
    const sel = i.id === this.selected;
    if (sel) tr.classList.add("selected");
    tr.setAttribute("aria-selected", String(sel));
    const td0 = document.createElement("td");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = sel;
    box.setAttribute("aria-label", `Select ${i.name || i.id}`);
    box.addEventListener("change", () => this.select(i.id));
    td0.append(box);
    tr.append(td0);
    for (const c of COLUMNS) {
      const td = document.createElement("td");
      td.dataset.col = c;
      const v = cell(i, c);
      if (c === "optionsState" || (c === "httpTokens" && v === "optional")) {
        const b = document.createElement("span");
        b.className = `badge ${v}`;
        b.textContent = v;
        td.append(b);
      } else if (c === "imdsv1" && i.imdsv1Rejected) {
        td.textContent = `${v} (${i.imdsv1Rejected} refused)`;
      } else {
        td.textContent = v;
      }
      tr.append(td);
    }
    tr.addEventListener("click", (e) => {
      if (e.target !== box) this.select(i.id);
    });
    return tr;
  }
}
