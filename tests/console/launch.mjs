// Launch instance with Advanced details: the defaults shown follow the account's defaults and
// the image's ImdsSupport; the launched instance appears in the list.
//
//   node launch.mjs '<json>'   json: as modify.mjs, plus {amiV2, amiPlain}

import { log, openSignedIn, withBrowser } from "./lib.mjs";

const cfg = JSON.parse(process.argv[2]);
await withBrowser(cfg, async (page, shot, consoleErrors) => {
  await openSignedIn(page, cfg);
  await page.getByRole("link", { name: "Launch instance" }).click();
  const form = page.locator("#launch");
  await form.waitFor();
  await page.waitForFunction(() => document.getElementById("l-image").options.length > 0);
  await form.getByText("Advanced details").click();
  const shown = async () => ({
    endpoint: await form.getByLabel("Metadata accessible").inputValue(),
    tokens: await form.getByLabel("Metadata version").inputValue(),
    hop: await form.getByLabel("Metadata response hop limit").inputValue(),
    tags: await form.getByLabel("Allow tags in metadata").inputValue(),
  });
  await form.getByLabel("Image (AMI)").selectOption(cfg.amiPlain);
  log({ step: "plain", ...(await shown()) });
  await form.getByLabel("Image (AMI)").selectOption(cfg.amiV2);
  log({ step: "v2", ...(await shown()) });
  await form.getByLabel("Name").fill("console-launched");
  await form.getByLabel("Metadata version").selectOption("required");  // "V2 only (token required)"
  await form.getByLabel("Allow tags in metadata").selectOption("enabled");
  await shot(page, "08-launch-advanced");
  await form.getByRole("button", { name: "Launch instance" }).click();
  const row = page.locator("tr", { hasText: "console-launched" });
  await row.waitFor({ timeout: 15000 });
  log({ step: "launched", id: await row.getAttribute("data-instance-id"),
        tokens: await row.locator('td[data-col="httpTokens"]').textContent(),
        hop: await row.locator('td[data-col="hopLimit"]').textContent(),
        tags: await row.locator('td[data-col="tags"]').textContent() });
  await shot(page, "09-launched");
  log({ step: "done", consoleErrors });
});
