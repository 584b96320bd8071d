// Drives headless Chromium for tests/e2e/test_console.py: turn the instance metadata service
// off in the Modify instance metadata options dialog and wait for the row to read applied.
//
//   node endpoint.mjs '<json>'   json: as modify.mjs
//
// One JSON line per step; {"error": ...} last when something expected does not happen.

import { log, openSignedIn, withBrowser } from "./lib.mjs";

const cfg = JSON.parse(process.argv[2]);
await withBrowser(cfg, async (page, shot, consoleErrors) => {
  await openSignedIn(page, cfg);
  const row = page.locator(`tr[data-instance-id="${cfg.instanceId}"]`);
  await row.locator('input[type="checkbox"]').check();
  // By keyboard: ArrowDown on Actions opens the menu on its first item, Enter opens the dialog.
  await page.getByRole("button", { name: "Actions" }).focus();
  await page.keyboard.press("ArrowDown");
  const focusedItem = await page.evaluate(() => document.activeElement?.getAttribute("role"));
  // End goes to the last item, ArrowDown wraps around to the first (Modify…).
  await page.keyboard.press("End");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Modify instance metadata options" });
  await dialog.waitFor();
  log({ step: "keyboard", focusedItem });
  await dialog.getByLabel("Enable").first().uncheck();
  await shot(page, "10-endpoint-off-dialog");
  await dialog.getByRole("button", { name: "Save" }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.waitForFunction(
    (id) => {
      const cell = (c) => document.querySelector(`tr[data-instance-id="${id}"] td[data-col="${c}"]`)?.textContent;
      return cell("optionsState") === "applied" && cell("httpEndpoint") === "disabled";
    },
    cfg.instanceId, { timeout: 20000, polling: 50 });
  log({ step: "applied", endpoint: await row.locator('td[data-col="httpEndpoint"]').textContent() });
  await shot(page, "11-endpoint-off");
  log({ step: "done", consoleErrors });
});
