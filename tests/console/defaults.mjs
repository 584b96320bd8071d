// Account attributes → IMDS defaults: read, change, save.
//
//   node defaults.mjs '<json>'   json: as modify.mjs

import { log, openSignedIn, withBrowser } from "./lib.mjs";

const cfg = JSON.parse(process.argv[2]);
await withBrowser(cfg, async (page, shot, consoleErrors) => {
  await openSignedIn(page, cfg);
  await page.getByRole("link", { name: "Account attributes" }).click();
  const form = page.locator("#defaults");
  await form.waitFor();
  const version = form.getByLabel("Metadata version");
  // Loaded from GetInstanceMetadataDefaults (no preference on a new account).
  await page.waitForFunction(() => document.getElementById("d-tokens").value !== "");
  log({ step: "loaded", tokens: await version.inputValue(), hop: await form.getByLabel(/hop limit/).inputValue(),
        current: await page.getByRole("link", { name: "Account attributes" }).getAttribute("aria-current") });
  await version.selectOption("required");
  await form.getByLabel(/hop limit/).fill("2");
  await form.getByLabel(/Enforce IMDSv2/).selectOption("enabled");
  await form.getByRole("button", { name: "Save" }).click();
  await form.getByRole("status").filter({ hasText: "Saved" }).waitFor();
  await shot(page, "07-account-defaults");
  log({ step: "saved", tokens: await version.inputValue(), hop: await form.getByLabel(/hop limit/).inputValue(),
        enforced: await form.getByLabel(/Enforce IMDSv2/).inputValue() });
  log({ step: "done", consoleErrors });
});
