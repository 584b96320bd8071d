// Drives headless Chromium through the console for tests/e2e/test_console.py.
//
//   node modify.mjs '<json>'   json: {base, accessKeyId, secretAccessKey, region, instanceId,
//                                    userDataDir, artifacts, chromium}
//
// Prints one JSON line per step ({"step": ..., ...}); exits non-zero with the reason on the
// last line ({"error": ...}) when something the test expects does not happen. Only
// http://127.0.0.1 is reachable: every other request is aborted.

import { log, openModify, signIn, withBrowser } from "./lib.mjs";

const cfg = JSON.parse(process.argv[2]);
await withBrowser(cfg, async (page, shot, consoleErrors) => {
  // Sign in.
  await page.goto(`${cfg.base}/console`);
  await page.getByLabel("Region").fill(cfg.region);
  await shot(page, "01-sign-in");
  await signIn(page, cfg);

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
  const dialog = await openModify(page);
  const focusedInDialog = await page.evaluate(() => !!document.activeElement?.closest("dialog"));
  log({ step: "dialog", focusedInDialog });

  // Esc closes it, focus back on Actions; reopen.
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  // The dialog's close event (which returns focus) follows its hiding as a separate task.
  await page.waitForFunction(() => document.activeElement?.id === "actions-button", null,
    { timeout: 2000 }).catch(() => {});
  const focusBack = await page.evaluate(() => document.activeElement?.id);
  log({ step: "escape", focusBack });
  await openModify(page);

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
});
