// The console's entry point: sign-in (kept in sessionStorage) and the pages.

import { call } from "./ec2.js";
import { InstancesPage } from "./instances.js";
import { ModifyDialog } from "./modify.js";
import { showError } from "./ui.js";
import { DefaultsPage } from "./defaults.js";
import { LaunchPage } from "./launch.js";
import { MigrationPage } from "./migration.js";

const KEY = "imds.console.session";
const $ = (id) => document.getElementById(id);

export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return s && s.accessKeyId && s.secretAccessKey && s.region ? s : null;
  } catch {
    return null;
  }
}

let page = null;
let defaults = null;
let launch = null;
let migration = null;
const PAGES = ["instances", "launch", "defaults", "migration"];

function showSignIn() {
  if (page) page.stop();
  if (defaults) defaults.stop();
  if (launch) launch.stop();
  if (migration) migration.stop();
  page = defaults = launch = migration = null;
  $("nav").hidden = true;
  for (const p of PAGES) $(p).hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("signin").hidden = false;
  $("access-key-id").focus();
}

function showInstances(session) {
  $("signin").hidden = true;
  $("sign-out").hidden = false;
  $("nav").hidden = false;
  $("who").textContent = `${session.accessKeyId} · ${session.region}`;
  const dialog = new ModifyDialog(session, () => page && page.refresh());
  page = new InstancesPage(session, dialog);
  defaults = new DefaultsPage(session);
  migration = new MigrationPage(session);
  launch = new LaunchPage(session, () => {
    location.hash = "#instances";
    page.refresh();
  });
  page.start();
  route();
}

/** #instances (the default) or #defaults: show that page, mark its link. */
function route() {
  if (!page) return;
  const which = PAGES.find((p) => location.hash === `#${p}`) || "instances";
  for (const p of PAGES) $(p).hidden = p !== which;
  for (const w of ["instances", "defaults", "migration"]) {
    const a = $(`nav-${w}`);
    if (w === which) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (which === "defaults") defaults.load();
  if (which === "launch") launch.load();
  if (which === "migration") migration.load();
  $(`${which}-title`).focus?.();
}

async function signIn(ev) {
  ev.preventDefault();
  const f = ev.target;
  const session = {
    accessKeyId: f.accessKeyId.value.trim(),
    secretAccessKey: f.secretAccessKey.value,
    sessionToken: f.sessionToken.value.trim(),
    region: f.region.value.trim(),
  };
  const err = $("signin-error");
  err.hidden = true;
  if (!session.accessKeyId || !session.secretAccessKey || !session.region) {
    showError(err, { code: "MissingParameter", message: "Access key ID, secret access key and Region are required." });
    return;
  }
  try {
    // A cheap signed call proves the keys before anything is shown.
    await call(session, "DescribeInstances", { MaxResults: 5 });
  } catch (e) {
    showError(err, e);
    return;
  }
  sessionStorage.setItem(KEY, JSON.stringify(session));
  f.secretAccessKey.value = "";
  showInstances(session);
}

function init() {
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    showSignIn();
  });
  window.addEventListener("hashchange", route);
  const s = loadSession();
  if (s) showInstances(s);
  else showSignIn();
}

init();
