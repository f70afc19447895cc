/**
 * The dashboard in Debian's Chromium against the real server (`next start`)
 * on its own port and data dir: sign in, see the app, open its build log.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { bootstrappedDataDir, repoRoot } from "../../apps/web/src/server/testing/platform.ts";
import { startWeb, type WebServer } from "../../apps/web/src/server/testing/server.ts";
import { shotPath, signIn, launchChromium } from "./helpers.ts";

const APP = "hello-web";
const { dataDir, token } = bootstrappedDataDir("paas-browser-");
const { seedApp, SUCCEEDED_LOG, FAILED_LOG } = await import("./seed.ts");
const seeded = await seedApp(`file:${path.join(dataDir, "paas.db")}`, APP);

let web: WebServer;
let browser: Browser;

before(async () => {
  web = await startWeb(dataDir);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await web?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function newPage(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  return ctx.newPage();
}

test("an unauthenticated visitor is sent to /login, and a wrong token shows an error", async () => {
  const page = await newPage();
  await page.goto(`${web.url}/apps/${APP}`);
  await page.waitForURL(/\/login$/);
  await page.fill("#token", "paas_this-is-not-a-token");
  await page.click("#token-submit");
  const alert = page.getByTestId("login-error");
  await alert.waitFor();
  await page.screenshot({ path: shotPath("dashboard-login.png") });
  assert.match(await alert.innerText(), /not valid/);
  assert.match(page.url(), /\/login$/);
  await page.context().close();
});

test("before the page's script runs, the sign-in forms cannot be sent: a token or password never goes into the URL", async () => {
  // The state before hydration, kept: the server's HTML without its script.
  const ctx = await browser.newContext({ javaScriptEnabled: false });
  const page = await ctx.newPage();
  const documents: string[] = [];
  page.on("request", (r) => void (r.resourceType() === "document" && documents.push(r.url())));
  await page.goto(`${web.url}/login`);
  assert.equal(await page.locator("#token-submit").isDisabled(), true);
  assert.equal(await page.getByTestId("password-sign-in").getByRole("button", { name: "Sign in" }).isDisabled(), true);
  // Enter in a field submits the form unless its default button is disabled; press() waits for a navigation it starts.
  await page.fill("#token", token);
  await page.press("#token", "Enter");
  await page.fill("#email", "admin@paas.localhost");
  await page.fill("#password", "a-secret-password");
  await page.press("#password", "Enter");
  await page.waitForLoadState();
  assert.deepEqual(documents, [`${web.url}/login`]);
  await ctx.close();
});

test("sign in, see the app, open it and its build log", async () => {
  const page = await newPage();
  await signIn(page, web.url, token);
  assert.equal(await page.getByTestId("whoami").innerText(), "admin@paas.localhost");

  const row = page.getByTestId("app-row").filter({ hasText: APP });
  await page.screenshot({ path: shotPath("dashboard-apps.png") });
  assert.equal(await row.count(), 1);
  assert.match(await row.innerText(), /main/);
  assert.match(await row.innerText(), /active/);
  assert.match(await row.innerText(), new RegExp(`${APP}\\.localhost:\\d+`));

  await row.getByRole("link", { name: APP, exact: true }).click();
  await page.waitForURL(`${web.url}/apps/${APP}`);
  await page.getByRole("heading", { name: APP }).waitFor();
  assert.match(await page.getByTestId("app-url").getAttribute("href") ?? "", new RegExp(`^http://${APP}\\.localhost:\\d+/$`));
  assert.equal(await page.getByTestId("release-row").count(), 1);
  assert.equal(await page.getByTestId("build-row").count(), 2);
  // The latest build (the failed one) is shown in the log panel.
  const latestLog = await page.getByTestId("build-log").innerText();
  assert.match(latestLog, /npm ERR! code EJSONPARSE/);
  assert.ok(FAILED_LOG.includes("EJSONPARSE"));
  await page.screenshot({ path: shotPath("dashboard.png"), fullPage: true });

  await page.getByTestId("build-row").filter({ hasText: "Add health check" }).getByRole("link").click();
  await page.waitForURL(`${web.url}/apps/${APP}/builds/${seeded.succeeded.id}`);
  const log = await page.getByTestId("build-log").innerText();
  assert.match(log, /Procfile declares types -> web/);
  for (const line of SUCCEEDED_LOG.trim().split("\n")) assert.ok(log.includes(line.trim()), `log shows: ${line}`);
  await page.screenshot({ path: shotPath("dashboard-build.png"), fullPage: true });

  // Signing out ends the session.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login$/);
  await page.goto(`${web.url}/`);
  await page.waitForURL(/\/login$/);
  await page.context().close();
});

test("an unknown app is a 404 page, not an error", async () => {
  const page = await newPage();
  await signIn(page, web.url, token);
  const res = await page.goto(`${web.url}/apps/no-such-app`);
  assert.equal(res?.status(), 404);
  await page.getByText("Not found").waitFor();
  await page.context().close();
});
