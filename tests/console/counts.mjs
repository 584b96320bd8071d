// Drives headless Chromium through the console for tests/e2e/test_console.py: the instance's
// row and its IMDSv1 count (from /metrics, which the console reads signed).
//
//   node counts.mjs '<json>'   json: {base, accessKeyId, secretAccessKey, region, instanceId,
//                                    userDataDir, artifacts, chromium}
//
// Prints one JSON line per step; exits non-zero with the reason on the last line
// ({"error": ...}). Only http://127.0.0.1 is reachable: every other request is aborted.

import { log, signIn, withBrowser } from "./lib.mjs";

const cfg = JSON.parse(process.argv[2]);
await withBrowser(cfg, async (page, shot, consoleErrors) => {
  await page.goto(`${cfg.base}/console`);
  await page.getByLabel("Region").fill(cfg.region);
  await signIn(page, cfg);
  const row = page.locator(`tr[data-instance-id="${cfg.instanceId}"]`);
  await row.waitFor({ timeout: 15000 });
  const imdsv1 = await row.locator('td[data-col="imdsv1"]').textContent();
  log({ step: "row", imdsv1 });
  await shot(page, "20-counts-off-loopback");
  log({ step: "done", consoleErrors });
});
