/**
 * The sidecars panel, in Debian's Chromium against a whole platform: a custom sidecar attached
 * from the app's page shows with its container on the replica, and detached from there goes;
 * the app's container keeps its pid and start time throughout.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { AgentClient } from "@paas/shared";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, type Platform } from "../helpers/platform.ts";
import { shotPath, signIn, launchChromium } from "./helpers.ts";

const APP = "paneled";

let p: Platform;
let browser: Browser;
let agent: AgentClient;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function appIdentity() {
  const [c] = (await agent.containers()).filter((x) => x.labels["paas.app"] === APP && x.labels["paas.process"] === "web");
  return { id: c!.id, pid: c!.pid, startedAt: c!.startedAt };
}

describe("the sidecars panel", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("sidebr", 5250);
    agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const repo = await fixtureRepo("node-hello");
    const push = await pushApp(p, APP, repo);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await p?.stop();
  });

  test("attach and detach from the app's page; the app is not restarted", async () => {
    const before = await appIdentity();
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await signIn(page, p.webUrl, p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}`);
    const panel = page.getByTestId("sidecars");
    await panel.getByText("No sidecars").waitFor();

    await panel.getByLabel("sidecar kind").fill("probe");
    await panel.getByLabel("sidecar image").fill("stack/busybox");
    await panel.getByLabel("sidecar memory").fill("32M");
    await panel.getByLabel("sidecar command").fill("exec sleep 100000");
    await panel.getByRole("button", { name: "Attach" }).click();
    await page.getByTestId("sidecar-status").waitFor({ timeout: 120_000 });
    assert.match(await page.getByTestId("sidecar-status").innerText(), /Attached probe \(stack\/busybox\) on paneled: 1 replica, 1 started/);
    const row = page.locator('[data-testid=sidecar-row][data-kind="probe"]');
    await row.waitFor();
    assert.match(await row.innerText(), /probe[\s\S]*stack\/busybox[\s\S]*app[\s\S]*32M[\s\S]*web\.1[\s\S]*running/);
    await page.screenshot({ path: shotPath("dashboard-sidecars.png"), fullPage: true });
    const [sc] = (await agent.containers()).filter((c) => c.labels["paas.app"] === APP && c.labels["paas.sidecar"] === "probe");
    assert.equal(sc?.state, "running");
    assert.equal(sc?.networkOf, before.id);
    assert.deepEqual(await appIdentity(), before);

    // A bad one says why and changes nothing.
    await panel.getByLabel("sidecar kind").fill("nosuch");
    await panel.getByLabel("sidecar image").fill("");
    await panel.getByRole("button", { name: "Attach" }).click();
    await page.getByTestId("sidecar-error").waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId("sidecar-error").innerText(), /"nosuch" is not a kind of sidecar .*--image IMAGE/);

    await row.getByRole("button", { name: "Detach" }).click();
    await panel.getByText("No sidecars").waitFor({ timeout: 120_000 });
    assert.equal((await agent.containers()).filter((c) => c.labels["paas.sidecar"]).length, 0);
    assert.deepEqual(await appIdentity(), before);
  });
});
