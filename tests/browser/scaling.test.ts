/**
 * Scaling from the dashboard, in Debian's Chromium against a whole platform: an app pushed
 * with web and worker types shows its replicas on its page; scaling web up and the worker
 * to 0 there changes what runs (checked on the page, through `paas ps` and the router).
 *
 *   flock /tmp/paas-itest.lock npx tsx --test tests/browser/scaling.test.ts
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";
import { shotPath, signIn, launchChromium } from "./helpers.ts";

const APP = "scaled";

let p: Platform;
let browser: Browser;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function psNames(): Promise<string[]> {
  const r = await paas(["ps", "-a", APP, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { replicas: { name: string }[] }).replicas.map((c) => c.name).sort();
}

async function signedIn(token: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  return signIn(page, p.webUrl, token);
}

const rowNames = async (page: Page) => (await page.getByTestId("replica-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-name") ?? ""))).sort();

describe("scaling from the dashboard", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("scaling", 4730);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const repo = await fixtureRepo("web-worker");
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await p?.stop();
  });

  test("the app's page lists the replicas; scaling there starts and stops them", async () => {
    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}`);
    assert.deepEqual(await rowNames(page), ["web.1", "worker.1"]);
    const web1 = page.getByTestId("replica-row").filter({ hasText: "web.1" });
    assert.match(await web1.innerText(), /running[\s\S]*v1[\s\S]*10\.\d+\.\d+\.\d+:5000[\s\S]*\/ 256M/);

    const web = page.locator('[data-testid=scale-control][data-type="web"]');
    await web.getByLabel("web replicas").fill("3");
    await web.getByRole("button", { name: "Apply" }).click();
    await page.getByTestId("scale-status").waitFor({ timeout: 120_000 });
    await page.locator('[data-testid=replica-row][data-name="web.3"]').waitFor({ timeout: 30_000 });
    assert.deepEqual(await rowNames(page), ["web.1", "web.2", "web.3", "worker.1"]);
    assert.equal(await page.locator('[data-testid=scale-control][data-type="web"]').getByLabel("web replicas").inputValue(), "3");
    await page.screenshot({ path: shotPath("dashboard-scaled.png"), fullPage: true });
    assert.deepEqual(await psNames(), ["web.1", "web.2", "web.3", "worker.1"]);
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 3; i++) {
      const r = await viaRouter(p, APP);
      assert.equal(r.status, 200, r.body);
      seen.add((JSON.parse(r.body) as { replica: string }).replica);
    }
    assert.deepEqual([...seen].sort(), ["web.1", "web.2", "web.3"]);

    const worker = page.locator('[data-testid=scale-control][data-type="worker"]');
    await worker.getByLabel("worker replicas").fill("0");
    await worker.getByRole("button", { name: "Apply" }).click();
    await page.waitForFunction(() => !document.querySelector('[data-testid=replica-row][data-name="worker.1"]'), null, { timeout: 120_000 });
    assert.deepEqual(await rowNames(page), ["web.1", "web.2", "web.3"]);
    assert.deepEqual(await psNames(), ["web.1", "web.2", "web.3"]);

    // Bad input is refused on the page and changes nothing.
    await page.locator('[data-testid=scale-control][data-type="web"]').getByLabel("web memory").fill("512");
    await page.locator('[data-testid=scale-control][data-type="web"]').getByRole("button", { name: "Apply" }).click();
    await page.getByTestId("scale-error").filter({ hasText: "--memory 512: write a size with its unit" }).waitFor();
    assert.deepEqual(await psNames(), ["web.1", "web.2", "web.3"]);
    await page.context().close();
  });
});
