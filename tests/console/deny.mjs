// The console under --iam-config: a wrong secret is refused at sign-in, and a principal
// denied ModifyInstanceMetadataOptions sees UnauthorizedOperation in the dialog.
//
//   node deny.mjs '<json>'   json: {base, accessKeyId, secretAccessKey, region, instanceId,
//                                   userDataDir, artifacts, chromium, prefix}

import { log, openModify, signIn, withBrowser } from "./lib.mjs";

const cfg = JSON.parse(process.argv[2]);
await withBrowser(cfg, async (page, shot, consoleErrors) => {
  await page.goto(`${cfg.base}/console`);

  // A wrong secret: the sign-in form says why, with the code.
  await signIn(page, { ...cfg, secretAccessKey: cfg.secretAccessKey + "x" });
  const signInError = page.locator("#signin-error");
  await signInError.waitFor({ state: "visible" });
  log({ step: "bad-secret", text: await signInError.textContent(),
        stillSignIn: await page.locator("#signin").isVisible() });
  await shot(page, `${cfg.prefix}01-sign-in-refused`);

  // The right one: the instances are listed (DescribeInstances is allowed).
  await signIn(page, cfg);
  const row = page.locator(`tr[data-instance-id="${cfg.instanceId}"]`);
  await row.waitFor({ timeout: 15000 });
  await row.click();
  const dialog = await openModify(page);
  await dialog.getByLabel("Required").check();
  await dialog.getByRole("button", { name: "Save" }).click();
  const alert = dialog.getByRole("alert");
  await alert.waitFor();
  log({ step: "denied", text: await alert.textContent(), dialogOpen: await dialog.isVisible(),
        optionsState: await row.locator('td[data-col="optionsState"]').textContent() });
  await shot(page, `${cfg.prefix}02-modify-denied`);
  log({ step: "done", consoleErrors });
});
