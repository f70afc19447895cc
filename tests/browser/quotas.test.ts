/**
 * The team's page in Debian's Chromium against a whole platform: quotas with usage bars and
 * the audit log. The operator (admin@paas.localhost, the team's admin too) raises the replica
 * quota from the page, scales the app up, and sees the use follow on the bars; the raise and
 * the scale are in the audit log below, and so is the scale-up refused before, on a red row.
 *
 *   npx tsx --test tests/browser/quotas.test.ts
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, type Platform } from "../helpers/platform.ts";
import { shotPath, signIn, launchChromium } from "./helpers.ts";

const APP = "barred";

let p: Platform;
let browser: Browser;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function signedIn(token: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
  const page = await ctx.newPage();
  return signIn(page, p.webUrl, token);
}

const use = (page: Page, quota: string) => page.locator(`[data-testid=quota][data-quota="${quota}"] [data-testid=quota-use]`).innerText();

describe("quotas on the team's page", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("qbars", 6150);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const repo = await fixtureRepo("web-worker");
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    // The team starts at its limit: web and worker run, 2 replicas of 2.
    assert.equal((await paas(["quotas:set", "replicas=2", "--team", "main"])).code, 0);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await p?.stop();
  });

  test("the admin raises the replica quota on the page, scales up, and the bars show the new use", async () => {
    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/teams/main`);
    assert.equal(await use(page, "replicas"), "2 / 2");
    assert.equal(await use(page, "apps"), "1 / 10");
    assert.equal(await use(page, "memory"), "512M / 4G");

    // At the limit, a scale-up is refused, naming it.
    const refused = await paas(["ps:scale", "web=3", "-a", APP]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /would exceed its quota of 2 replicas/);

    await page.getByRole("button", { name: "Change the replicas quota" }).click();
    await page.getByLabel("Replicas limit").fill("6");
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForFunction(() => document.querySelector('[data-quota="replicas"] [data-testid=quota-use]')?.textContent === "2 / 6");

    const scaled = await paas(["ps:scale", "web=3", "-a", APP]);
    assert.equal(scaled.code, 0, scaled.stderr);
    await page.reload();
    assert.equal(await use(page, "replicas"), "4 / 6");
    assert.equal(await use(page, "memory"), "1G / 4G");
    const actions = await page.getByTestId("audit-event").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")));
    assert.deepEqual(actions.slice(0, 3), ["ps.scale", "quotas.set", "ps.scale"]);
    // The refused scale-up is there too, as denied with its reason, on a row that looks different (red).
    const row = (outcome: string) => page.locator(`[data-testid=audit-event][data-action="ps.scale"][data-outcome=${outcome}]`);
    assert.equal(await row("denied").count(), 1);
    assert.equal(await row("ok").count(), 1);
    assert.match(await row("denied").innerText(), /denied[\s\S]*would exceed its quota of 2 replicas/);
    const background = (outcome: string) => row(outcome).evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.notEqual(await background("denied"), await background("ok"));
    await page.screenshot({ path: shotPath("team-quotas.png"), fullPage: true });

    // Lowered below the use: the page says the team is over its quota.
    assert.equal((await paas(["quotas:set", "replicas=3", "--team", "main"])).code, 0);
    await page.reload();
    assert.match(await page.getByTestId("quota-over").innerText(), /over its quota of replicas/);
    assert.equal(await use(page, "replicas"), "4 / 3");
    await page.screenshot({ path: shotPath("team-over-quota.png"), fullPage: true });
  });
});
