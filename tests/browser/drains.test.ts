/**
 * The log drains panel, in Debian's Chromium against a whole platform: a bad URL is refused with
 * its reason and adds nothing; a drain added from the app's page shows (its password masked)
 * with its state and the lines it delivered to a local syslog receiver; Remove takes it away.
 */
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { Redis } from "ioredis";
import { appLogKey, logRetention, xaddArgs } from "@paas/shared/app-log";
import { ROOT, sh, startPlatform, type Platform } from "../helpers/platform.ts";
import { explained, shotPath, signIn, launchChromium } from "./helpers.ts";

const BASE = 6350;
const APP = "drainpanel";

let p: Platform;
let browser: Browser;
let redis: Redis;
const received: string[] = [];
let receiver: net.Server;
let port = 0;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

describe("the log drains panel", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("drainbr", BASE, { PAAS_DRAINS_ALLOW_LOCAL: "1" });
    redis = new Redis(Number(p.env.PAAS_REDIS_PORT), "127.0.0.1");
    assert.equal((await paas(["apps:create", APP])).code, 0);
    receiver = net.createServer((s) => s.on("data", (d) => received.push(d.toString())));
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    port = (receiver.address() as net.AddressInfo).port;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    redis?.disconnect();
    receiver?.close();
    await p?.stop();
  });

  test("add from the app's page, see it deliver, remove it", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await signIn(page, p.webUrl, p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}`);
    const panel = page.getByTestId("drains");
    await explained(page, "drains-panel", async () => {
      await panel.getByText("No drains").waitFor();

      await panel.getByLabel("drain URL").fill("ftp://logs.example.com/");
      await panel.getByRole("button", { name: "Add drain" }).click();
      await panel.getByTestId("drain-error").getByText("drains speak syslog+tcp://, syslog+tls://, https://, not ftp://").waitFor();
      assert.equal(await panel.getByTestId("drain-row").count(), 0);

      await panel.getByLabel("drain URL").fill(`syslog+tcp://127.0.0.1:${port}`);
      await panel.getByRole("button", { name: "Add drain" }).click();
      await panel.getByTestId("drain-status").getByText(`Added drain syslog+tcp://127.0.0.1:${port}`).waitFor();
      const row = panel.getByTestId("drain-row");
      await row.getByText(`syslog+tcp://127.0.0.1:${port}`).waitFor();

      // A line in the app's log (as the collector writes it): delivered, and the panel's figures follow.
      await redis.xadd(appLogKey(APP), ...(xaddArgs({ t: new Date().toISOString(), src: "app", type: "web", replica: "1", stream: "stdout", line: "hello drain panel" }, logRetention()) as [string]));
      await row.getByText("delivering").waitFor({ timeout: 30_000 });
      assert.match(received.join(""), /<190>1 \S+ \S+ drainpanel web\.1 - - hello drain panel/);
      assert.equal(await row.locator("td").nth(2).innerText(), "1", "one line delivered");
      await page.screenshot({ path: shotPath("drains-panel.png"), fullPage: true });

      await row.getByRole("button", { name: "Remove" }).click();
      await panel.getByTestId("drain-status").getByText(`Removed drain syslog+tcp://127.0.0.1:${port}`).waitFor();
      await panel.getByText("No drains").waitFor();
    });
    const list = await paas(["drains", "-a", APP, "--json"]);
    assert.deepEqual(JSON.parse(list.stdout), []);
    await ctx.close();
  });
});
