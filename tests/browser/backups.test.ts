/**
 * The backups panel of the app's page, in Debian's Chromium against a whole platform with a
 * pushed app and a volume: "Back up now" makes a backup listed ok with its size; a capture that
 * restic cannot make (the repository cannot take its lock) is shown FAILED with restic's reason,
 * in the row, in a banner over the list and in the panel's error line with what to do.
 *
 *   /work/wt/itest npx tsx --test tests/browser/backups.test.ts
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser } from "playwright-core";
import { AgentClient } from "@paas/shared";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, type Platform } from "../helpers/platform.ts";
import { explained, launchChromium, shotPath, signIn } from "./helpers.ts";

const BASE = 6750;
const APP = "bkpanel";

let p: Platform;
let browser: Browser;

const paas = (args: string[]) => sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });
type Listed = { backups: { id: string; status: string; error: string | null; sizeBytes: number | null }[] };

describe("the backups panel", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("bkpanel", BASE);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    const push = await pushApp(p, APP, await fixtureRepo("node-hello"));
    assert.equal(push.code, 0, push.stderr + push.stdout);
    const add = await paas(["volumes:add", "data", "/data", "--size", "64M", "-a", APP]);
    assert.equal(add.code, 0, add.stderr);
    // 2 MiB of random bytes in the volume, written where its replica mounts it.
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    fs.writeFileSync(path.join((await agent.volume(`${APP}_data`)).path!, "blob.bin"), randomBytes(2 * 2 ** 20));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    // The app and its volume go first: infra/down leaves a size-capped volume's filesystem mounted.
    if (p) await paas(["apps:destroy", APP, "--confirm", APP]);
    await p?.stop();
  });

  test("back up from the dashboard: listed ok with its size; a failed capture shown FAILED with its reason", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1400 } });
    const page = await signIn(await ctx.newPage(), p.webUrl, p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}`);
    const panel = page.getByTestId("backups");
    const rows = panel.getByTestId("backup-row");
    await explained(page, "backups-panel", async () => {
      await panel.getByText("No backups yet.").waitFor();
      await panel.getByRole("button", { name: "Back up now" }).click();
      // The capture (restic in its container, the app paused) can take a while on a loaded machine.
      const done = panel.getByTestId("backup-status");
      await done.waitFor({ timeout: 180_000 });
      const said = await done.innerText();
      const listed = JSON.parse((await paas(["backups", "-a", APP, "--json"])).stdout) as Listed;
      assert.equal(listed.backups.length, 1);
      const ok = listed.backups[0]!;
      assert.deepEqual([ok.status, ok.sizeBytes], ["succeeded", 2 * 2 ** 20]);
      assert.match(said, new RegExp(`^Backup ${ok.id} of volume data: snapshot [0-9a-f]{8}, 2\\.0 MB`));
      await rows.filter({ hasText: ok.id }).waitFor();
      assert.deepEqual((await rows.filter({ hasText: ok.id }).locator("td").allInnerTexts()).filter((_, i) => [1, 3, 5].includes(i)), ["data", "2.0 MB", "ok"]);
      assert.equal(await panel.getByTestId("backups-failed").count(), 0, "no failure banner");

      // restic cannot write its lock: the repository's locks/ directory is a file.
      const locks = path.join(p.dataDir, "backups", APP, "repo", "locks");
      fs.renameSync(locks, `${locks}.kept`);
      fs.writeFileSync(locks, "");
      try {
        await panel.getByRole("button", { name: "Back up now" }).click();
        const error = panel.getByTestId("backup-error");
        await error.waitFor({ timeout: 180_000 });
        assert.match(await error.innerText(), /^backup \w+ of bkpanel's volume data FAILED: restic backup failed: .*unable to create lock.*\nThe backup repository is locked or cannot be written/);
      } finally {
        fs.rmSync(locks);
        fs.renameSync(`${locks}.kept`, locks);
      }
      const failed = (JSON.parse((await paas(["backups", "-a", APP, "--json"])).stdout) as Listed).backups.find((b) => b.status === "failed")!;
      assert.ok(failed, "the failed backup is listed");
      const row = rows.filter({ hasText: failed.id });
      await row.waitFor();
      assert.match(await row.locator("td").last().innerText(), /^FAILED: restic backup failed: .*unable to create lock/);
      assert.match(await panel.getByTestId("backups-failed").innerText(), /^1 backup FAILED, the last: restic backup failed: .*unable to create lock/);
      assert.equal(await rows.count(), 2);
      await page.screenshot({ path: shotPath("backups-panel.png"), fullPage: true });
    });
    await ctx.close();
  });
});
