/**
 * The app page's charts, in Debian's Chromium against a whole platform: an app with two web
 * replicas under a light load (some slow requests, some errors) shows requests, p50/p99
 * latency, errors, and CPU and memory per replica, drawn from Prometheus's data; the page is
 * saved as a screenshot (test-results/screenshots; PAAS_SHOTS_DIR overrides the dir).
 *
 *   npx tsx --test tests/browser/metrics.test.ts
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";
import { explained, shotPath, signIn, launchChromium } from "./helpers.ts";

const APP = "charted";

let p: Platform;
let browser: Browser;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

/** ~8 requests a second for `seconds`: a quarter slow (50 ms), one in 20 an error. */
async function load(seconds: number) {
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const r = await viaRouter(p, APP, i % 20 === 0 ? "/fail" : i % 4 === 0 ? "/slow" : "/");
    assert.equal(r.status, i % 20 === 0 ? 500 : 200, r.body);
    await new Promise((res) => setTimeout(res, 120));
  }
}

describe("metrics charts on the app's page", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("mchart", 5500);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const repo = await fixtureRepo("node-metrics");
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    const scale = await paas(["ps:scale", "web=2", "-a", APP]);
    assert.equal(scale.code, 0, scale.stderr);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await p?.stop();
  });

  test("requests, latency, errors, CPU and memory per replica are charted with data", async () => {
    await load(75);
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await ctx.newPage();
    await signIn(page, p.webUrl, p.adminToken);
    await explained(page, "metrics", async () => {
      await page.goto(`${p.webUrl}/apps/${APP}`);
      const metrics = page.getByTestId("app-metrics");
      await metrics.getByRole("button", { name: "15m" }).click();
      for (const title of ["Requests", "Latency p50 / p99", "Errors (5xx)", "CPU per replica", "Memory per replica"]) {
        // uPlot draws on a canvas once the chart has a point: "No data" otherwise.
        await metrics.locator(`[data-chart="${title}"] canvas`).first().waitFor({ timeout: 60_000 });
      }
      // The legends name what is drawn: status classes, quantiles, and each replica.
      const legend = (title: string) => metrics.locator(`[data-chart="${title}"] .u-legend`).innerText();
      assert.match(await legend("Requests"), /2xx[\s\S]*5xx/);
      assert.match(await legend("Latency p50 / p99"), /p50[\s\S]*p99/);
      assert.match(await legend("CPU per replica"), /web\.1[\s\S]*web\.2/);
      assert.match(await legend("Memory per replica"), /web\.1[\s\S]*web\.2/);
      // Data, not an empty frame: the latest values read as figures beside each title.
      const latest = (title: string) => metrics.locator(`[data-chart="${title}"] [data-testid=chart-latest]`).innerText();
      assert.match(await latest("Memory per replica"), /^web\.1 \d+(\.\d)? MB · web\.2 \d+(\.\d)? MB$/);
      assert.match(await latest("Requests"), /2xx \d+(\.\d+)?\/s/);
      assert.match(await latest("Latency p50 / p99"), /p50 \d+(\.\d)? ms · p99 \d+(\.\d)? ms/);
      const shot = shotPath("app-metrics.png");
      await metrics.scrollIntoViewIfNeeded();
      await page.screenshot({ path: shot, fullPage: true });
      await metrics.screenshot({ path: shotPath("app-metrics-charts.png") });
      console.log(`screenshots: ${shot}, ${shotPath("app-metrics-charts.png")}`);
    });
    await ctx.close();
  });
});
