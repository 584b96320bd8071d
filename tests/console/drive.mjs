// Drives headless Chromium through the console for tests/e2e/test_console.py.
//
//   node drive.mjs '<json>'   json: {base, accessKeyId, secretAccessKey, region, instanceId,
//                                    userDataDir, artifacts, chromium}
//
// Prints one JSON line per step ({"step": ..., ...}); exits non-zero with the reason on the
// last line ({"error": ...}) when something the test expects does not happen. Only
// http://127.0.0.1 is reachable: every other request is aborted.

import { chromium } from "playwright-core";
import path from "node:path";

const cfg = JSON.parse(process.argv[2]);
const log = (o) => console.log(JSON.stringify(o));
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const context = await chromium.launchPersistentContext(cfg.userDataDir, {
  executablePath: cfg.chromium,
  headless: true,
  args: ARGS,
  viewport: { width: 1280, height: 800 },
});
const shot = async (page, name) => {
  const file = path.join(cfg.artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log({ step: "screenshot", file });
};
let page;
try {
  await context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    return u.hostname === "127.0.0.1" ? route.continue() : route.abort();
  });
  page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });

  // Sign in.
  await page.goto(`${cfg.base}/console`);
  await page.getByLabel("Access key ID").fill(cfg.accessKeyId);
  await page.getByLabel("Secret access key").fill(cfg.secretAccessKey);
  await page.getByLabel("Region").fill(cfg.region);
  await shot(page, "01-sign-in");
  await page.getByRole("button", { name: "Sign in" }).click();

  // The default instance's row.
  const row = page.locator(`tr[data-instance-id="${cfg.instanceId}"]`);
  await row.waitFor({ timeout: 15000 });
  const name = await row.locator('td[data-col="name"]').textContent();
  const tokensBefore = await row.locator('td[data-col="httpTokens"]').textContent();
  const imdsv1 = await row.locator('td[data-col="imdsv1"]').textContent();
  log({ step: "row", name, httpTokens: tokensBefore, imdsv1 });
  await shot(page, "02-instances");

  // Narrow window: still readable (no horizontal overflow of the page itself).
  await page.setViewportSize({ width: 420, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await shot(page, "03-instances-narrow");
  log({ step: "narrow", overflow });
  await page.setViewportSize({ width: 1280, height: 800 });

  // Filter box narrows the rows; clearing it brings them back.
  await page.getByLabel("Filter instances").fill("no-such-instance-xyz");
  await page.locator("#empty").waitFor({ state: "visible" });
  await page.getByLabel("Filter instances").fill(cfg.instanceId);
  await row.waitFor();
  await page.getByLabel("Filter instances").fill("");

  // Select it; Actions → Instance settings → Modify instance metadata options.
  await page.getByLabel(`Select ${name || cfg.instanceId}`).check();
  await page.getByRole("button", { name: "Actions" }).click();
  await page.getByRole("menuitem", { name: "Modify instance metadata options" }).click();
  const dialog = page.getByRole("dialog", { name: "Modify instance metadata options" });
  await dialog.waitFor();
  const focusedInDialog = await page.evaluate(() => !!document.activeElement?.closest("dialog"));
  log({ step: "dialog", focusedInDialog });

  // Esc closes it, focus back on Actions; reopen.
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  const focusBack = await page.evaluate(() => document.activeElement?.id);
  log({ step: "escape", focusBack });
  await page.getByRole("button", { name: "Actions" }).click();
  await page.getByRole("menuitem", { name: "Modify instance metadata options" }).click();
  await dialog.waitFor();

  // An invalid hop limit is refused in words, with the code.
  await dialog.getByLabel("Metadata response hop limit").fill("65");
  await dialog.getByRole("button", { name: "Save" }).click();
  const hopError = await dialog.getByRole("alert").textContent();
  log({ step: "hop-error", text: hopError });

  // Instance metadata service Enable; IMDSv2 Optional; hop limit 3; Save.
  await dialog.getByLabel("Enable").first().check();
  await dialog.getByLabel("Optional").check();
  await dialog.getByLabel("Metadata response hop limit").fill("3");
  await shot(page, "04-modify-dialog");
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.waitFor({ state: "hidden" });

  // pending, then applied, without a reload.
  const stateCell = row.locator('td[data-col="optionsState"]');
  await page.waitForFunction(
    (id) => document.querySelector(`tr[data-instance-id="${id}"] td[data-col="optionsState"]`)?.textContent === "pending",
    cfg.instanceId, { timeout: 10000, polling: 20 });
  log({ step: "pending", hop: await row.locator('td[data-col="hopLimit"]').textContent() });
  await shot(page, "05-pending");
  await page.waitForFunction(
    (id) => document.querySelector(`tr[data-instance-id="${id}"] td[data-col="optionsState"]`)?.textContent === "applied",
    cfg.instanceId, { timeout: 20000, polling: 50 });
  log({
    step: "applied",
    state: await stateCell.textContent(),
    httpTokens: await row.locator('td[data-col="httpTokens"]').textContent(),
    hop: await row.locator('td[data-col="hopLimit"]').textContent(),
    navigations: await page.evaluate(() => performance.getEntriesByType("navigation").length),
  });
  await shot(page, "06-applied");

  // Sorting by Instance ID: header says so.
  await page.getByRole("button", { name: "Instance ID" }).click();
  log({ step: "sort", ariaSort: await page.locator('th[data-key="id"]').getAttribute("aria-sort") });
  log({ step: "done", consoleErrors });
} catch (e) {
  if (page) await shot(page, "99-failure").catch(() => {});
  log({ error: String(e && e.stack || e) });
  process.exitCode = 1;
} finally {
  await context.close();
}
