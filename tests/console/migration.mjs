// The "IMDSv2 migration" page: verdicts from the fleet's traffic, a blocked instance's
// callers, and IMDSv2 required on the safe ones after a confirmation.
//
//   node migration.mjs '<json>'   json: as modify.mjs, plus safe, blocked, unknown (ids)

import { log, openSignedIn, withBrowser } from "./lib.mjs";

const cfg = JSON.parse(process.argv[2]);
await withBrowser(cfg, async (page, shot, consoleErrors) => {
  await openSignedIn(page, cfg);
  // Instances → select the blocked one → Actions → Monitor → View IMDSv1 callers.
  await page.locator(`tr[data-instance-id="${cfg.blocked}"]`).waitFor();
  await page.getByLabel(`Select ${cfg.blocked}`).check();
  await page.getByRole("button", { name: "Actions" }).click();
  await page.getByRole("menuitem", { name: "View IMDSv1 callers" }).click();
  const callersDialog = page.getByRole("dialog", { name: "IMDSv1 callers" });
  await callersDialog.locator("li").first().waitFor({ timeout: 10000 });
  log({ step: "panel", items: await callersDialog.locator("li").allTextContents() });
  await shot(page, "09-imdsv1-callers");
  await callersDialog.getByRole("button", { name: "Close" }).click();
  // The dialog's `close` event, which gives focus back to its opener, comes a task after
  // close(): wait for it (2 s at most) before saying where focus is.
  await page.waitForFunction(() => document.activeElement?.id !== "callers-close", null,
                              { timeout: 2000 }).catch(() => {});
  log({ step: "panel-closed", focus: await page.evaluate(() => document.activeElement?.id) });
  await page.getByRole("link", { name: "IMDSv2 migration" }).click();
  const row = (id) => page.locator(`#migration-rows tr[data-instance-id="${id}"]`);
  await row(cfg.safe).waitFor({ timeout: 15000 });
  const verdict = async (id) => row(id).getAttribute("data-verdict");
  log({ step: "verdicts", safe: await verdict(cfg.safe), blocked: await verdict(cfg.blocked),
        unknown: await verdict(cfg.unknown) });
  const panel = row(cfg.blocked).locator("details");
  await panel.locator("summary").click();
  log({ step: "callers", summary: await panel.locator("summary").textContent(),
        items: await panel.locator("li").allTextContents() });
  await shot(page, "10-migration");
  const apply = page.getByRole("button", { name: /Require IMDSv2 on \d+ safe instance/ });
  log({ step: "button", text: await apply.textContent() });
  await apply.click();
  const dialog = page.getByRole("dialog", { name: "Require IMDSv2" });
  await dialog.waitFor();
  log({ step: "confirm", text: await dialog.locator("p").textContent() });
  await shot(page, "11-migration-confirm");
  await dialog.getByRole("button", { name: "Require IMDSv2" }).click();
  await page.locator("#migration-status").filter({ hasText: "IMDSv2 required on" }).waitFor({ timeout: 20000 });
  log({ step: "applied", status: await page.locator("#migration-status").textContent(),
        safe: await verdict(cfg.safe), blocked: await verdict(cfg.blocked) });
  log({ step: "done", consoleErrors });
});
