/**
 * The app page's live log view, in Debian's Chromium against a whole platform: the pushed
 * app's lines and the deploy's events are there; a line the app writes afterwards appears
 * without a reload (SSE); the type and text filters narrow what is shown. Screenshot:
 * test-results/screenshots/live-logs.png (PAAS_SHOTS_DIR overrides the dir).
 *
 *   npx tsx --test tests/browser/logs.test.ts
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";
import { shotPath, signIn, launchChromium } from "./helpers.ts";

const APP = "watched";

let p: Platform;
let browser: Browser;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function signedIn(token: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await ctx.newPage();
  return signIn(page, p.webUrl, token);
}

const shown = (page: Page) => page.getByTestId("app-log-line").allInnerTexts();

describe("the live log view", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("blogsx", 5200);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const repo = await fixtureRepo("node-logs");
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await p?.stop();
  });

  test("shows the app's lines and the platform's live, and filters them", async () => {
    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}`);
    await page.getByTestId("app-logs-state").filter({ hasText: "live" }).waitFor({ timeout: 30_000 });
    await page.getByTestId("app-log-line").filter({ hasText: "web listening as web.1" }).waitFor({ timeout: 30_000 });
    assert.ok((await shown(page)).some((l) => /paas\[deploy\]: Deployed v1/.test(l)), "the deploy's event");

    // written after the page opened: it comes by the stream, no reload
    await viaRouter(p, APP, `/say?text=${encodeURIComponent("hello from the browser test")}`);
    await page.getByTestId("app-log-line").filter({ hasText: "app[web.1]: hello from the browser test" }).waitFor({ timeout: 20_000 });
    await viaRouter(p, APP, `/say?text=${encodeURIComponent("an error line")}&err=1`);
    await page.getByTestId("app-log-line").filter({ hasText: "an error line" }).waitFor({ timeout: 20_000 });
    await page.getByTestId("app-logs").scrollIntoViewIfNeeded();
    await page.screenshot({ path: shotPath("live-logs.png"), fullPage: true });

    // the type filter: only the worker's lines
    await page.getByLabel("Process type").selectOption("worker");
    await page.getByTestId("app-log-line").filter({ hasText: "app[worker.1]: tick" }).first().waitFor({ timeout: 20_000 });
    const workers = await shown(page);
    assert.ok(workers.length > 0 && workers.every((l) => /\[worker\.1\]/.test(l)), workers.slice(0, 5).join("\n"));

    // the text filter, with every type again
    await page.getByLabel("Process type").selectOption({ label: "all types" });
    await page.getByLabel("Filter text").fill("hello from the browser");
    await page.waitForFunction(() => {
      const lines = [...document.querySelectorAll("[data-testid=app-log-line]")].map((e) => e.textContent ?? "");
      return lines.length === 1 && lines[0].includes("hello from the browser test");
    }, undefined, { timeout: 20_000 });
    await page.screenshot({ path: shotPath("live-logs-filtered.png"), fullPage: true });
  });
});
