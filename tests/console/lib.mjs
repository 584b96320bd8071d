// Shared steps of the console driver scripts: a headless Chromium that can only reach
// 127.0.0.1, JSON-line logging, screenshots, sign-in and opening the modify dialog.

import { chromium } from "playwright-core";
import path from "node:path";

export const log = (o) => console.log(JSON.stringify(o));

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Runs `fn(page, shot)` in a fresh browser; a failure is logged as {"error"} with a screenshot. */
export async function withBrowser(cfg, fn) {
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
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await fn(page, shot, errors);
  } catch (e) {
    if (page) await shot(page, `${cfg.prefix ?? ""}99-failure`).catch(() => {});
    log({ error: String((e && e.stack) || e) });
    process.exitCode = 1;
  } finally {
    await context.close();
  }
}

/** Fills the sign-in form and submits it. */
export async function signIn(page, { accessKeyId, secretAccessKey, region }) {
  await page.getByLabel("Access key ID").fill(accessKeyId);
  await page.getByLabel("Secret access key").fill(secretAccessKey);
  await page.getByLabel("Region").fill(region);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Actions → Instance settings → Modify instance metadata options; the dialog locator. */
export async function openModify(page) {
  await page.getByRole("button", { name: "Actions" }).click();
  await page.getByRole("menuitem", { name: "Modify instance metadata options" }).click();
  const dialog = page.getByRole("dialog", { name: "Modify instance metadata options" });
  await dialog.waitFor();
  return dialog;
}

/** Opens the console, signs in and waits for the row of cfg.instanceId. */
export async function openSignedIn(page, cfg) {
  await page.goto(`${cfg.base}/console`);
  await signIn(page, cfg);
  await page.locator(`tr[data-instance-id="${cfg.instanceId}"]`).waitFor({ timeout: 15000 });
}
