/**
 * The app's Settings tab, in Debian's Chromium against a whole platform with a pushed app:
 * a custom domain added (the router answers it), given a certificate and removed; a bad
 * domain and a bad volume path refused inline with nothing changed; a volume added, refused
 * removal while mounted, then forced; the deploy branch (a push of another refused), previews
 * and the outbound network changed (seen through the CLI); the app moved to another team and back; a viewer sees the settings and no form;
 * the app destroyed by typing its name (gone from the list, its URL the router's 404).
 *
 *   /work/wt/itest npx tsx --test tests/browser/settings.test.ts
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { selfSigned } from "../helpers/certs.ts";
import { ROOT, addTeamWithToken, commitChange, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";
import { waitFor } from "../helpers/wait.ts";
import { explained, launchChromium, shotPath, signIn } from "./helpers.ts";

const APP = "settled";
const HOST = "www.settled-shop.test";
const BASE = 4850;


let p: Platform;
let browser: Browser;
let repo: string;

const gitPush = () => pushApp(p, APP, repo);

async function paas(args: string[], token = p.adminToken) {
  return sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: token } });
}

async function paasJson<T>(args: string[]): Promise<T> {
  const r = await paas([...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

async function signedIn(token: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  return signIn(await ctx.newPage(), p.webUrl, token);
}

const settingsUrl = () => `${p.webUrl}/apps/${APP}/settings`;
type Info = { team: string; settings: { previews: boolean; egress: string; egressAllow: string } };

describe("the app's settings page", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("settings", BASE);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    repo = await fixtureRepo("node-hello");
    const push = await gitPush();
    assert.equal(push.code, 0, push.stderr + push.stdout);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await p?.stop();
  });

  test("domains: a bad one refused inline; one added serves through the router, takes a certificate, and is removed", async () => {
    const page = await signedIn(p.adminToken);
    await explained(page, "settings-domains", async () => {
      await page.goto(`${p.webUrl}/apps/${APP}`);
      // The Overview keeps its panels; the Settings tab leads to the new page.
      await page.getByTestId("release-row").first().waitFor();
      await page.getByTestId("app-tabs").getByRole("link", { name: "Settings" }).click();
      await page.waitForURL(settingsUrl());
      assert.equal(await page.getByTestId("app-tabs").getByRole("link", { name: "Settings" }).getAttribute("aria-current"), "page");

      await page.fill("#domain-hostname", "*.settled-shop.test");
      await page.getByRole("button", { name: "Add domain" }).click();
      await page.getByTestId("domain-error").filter({ hasText: "wildcard domains are not supported" }).waitFor();
      await page.fill("#domain-hostname", "shop.localhost");
      await page.getByRole("button", { name: "Add domain" }).click();
      await page.getByTestId("domain-error").filter({ hasText: "shop.localhost" }).waitFor();
      assert.equal(await page.getByTestId("domain-row").count(), 0);
      assert.deepEqual(await paasJson(["domains", "-a", APP]), []);

      await page.fill("#domain-hostname", HOST);
      await page.getByRole("button", { name: "Add domain" }).click();
      await page.getByTestId("domain-status").filter({ hasText: `Added ${HOST}` }).waitFor({ timeout: 60_000 });
      await page.locator(`[data-testid=domain-row][data-hostname="${HOST}"]`).waitFor();
      assert.deepEqual((await paasJson<{ hostname: string }[]>(["domains", "-a", APP])).map((d) => d.hostname), [HOST]);
      const served = await viaRouter(p, APP, "/", HOST);
      assert.equal(served.status, 200, served.body);
      assert.equal((JSON.parse(served.body) as { message: string }).message, "hello from v1");

      const cert = selfSigned([HOST]);
      await page.getByText("Add a certificate (HTTPS)").click();
      await page.fill("#cert-pem", cert.cert);
      await page.fill("#cert-key", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
      await page.getByRole("button", { name: "Add certificate" }).click();
      await page.getByTestId("domain-error").filter({ hasText: "certificate refused" }).waitFor({ timeout: 30_000 });
      assert.match(await page.getByTestId("domain-cert").innerText(), /none/);
      await page.fill("#cert-key", cert.key);
      await page.getByRole("button", { name: "Add certificate" }).click();
      await page.getByTestId("domain-status").filter({ hasText: `now serves ${HOST}` }).waitFor({ timeout: 60_000 });
      await page.getByTestId("domain-cert").filter({ hasText: `${HOST} (self-signed)` }).waitFor();
      await page.screenshot({ path: shotPath("settings-domains.png"), fullPage: true });

      const row = page.locator(`[data-testid=domain-row][data-hostname="${HOST}"]`);
      await row.getByRole("button", { name: "Remove" }).click();
      await row.getByRole("button", { name: "Confirm removal" }).click();
      await page.getByTestId("domain-status").filter({ hasText: `Removed ${HOST}` }).waitFor({ timeout: 60_000 });
      await page.waitForFunction(() => !document.querySelector("[data-testid=domain-row]"));
      assert.deepEqual(await paasJson(["domains", "-a", APP]), []);
      await waitFor(async () => (await viaRouter(p, APP, "/", HOST)).status === 404, `the router to let go of ${HOST}`);
    });
    await page.context().close();
  });

  test("volumes: bad paths refused inline; one added is listed, its removal refused while mounted, then forced", async () => {
    const page = await signedIn(p.adminToken);
    await explained(page, "settings-volumes", async () => {
      await page.goto(settingsUrl());
      await page.fill("#volume-name", "data");
      await page.fill("#volume-path", "data");
      await page.getByRole("button", { name: "Add volume" }).click();
      await page.getByTestId("volume-error").filter({ hasText: "a path in the container is absolute" }).waitFor();
      await page.fill("#volume-path", "/etc");
      await page.getByRole("button", { name: "Add volume" }).click();
      await page.getByTestId("volume-error").filter({ hasText: "a volume cannot be mounted at" }).waitFor();
      assert.equal(await page.getByTestId("volume-row").count(), 0);
      assert.deepEqual(await paasJson(["volumes", "-a", APP]), []);

      await page.fill("#volume-path", "/data");
      await page.fill("#volume-size", "64M");
      await page.getByRole("button", { name: "Add volume" }).click();
      await page.getByTestId("volume-status").filter({ hasText: "Added volume data (64M) at /data: 1 replica mount it" }).waitFor({ timeout: 180_000 });
      const row = page.locator("[data-testid=volume-row][data-name=data]");
      await row.waitFor();
      // What it holds as the agent's df sees it (a filesystem of its own: a few of its 64M are its own).
      assert.match(await row.getByTestId("volume-use").innerText(), /^\d+(\.\d)? (B|KB|MB) \/ 64M$/);
      assert.deepEqual((await paasJson<{ name: string; path: string; sizeMb: number }[]>(["volumes", "-a", APP])).map((v) => [v.name, v.path, v.sizeMb]), [["data", "/data", 64]]);
      await page.screenshot({ path: shotPath("settings-volumes.png"), fullPage: true });

      await row.getByRole("button", { name: "Remove" }).click();
      await row.getByRole("button", { name: "Delete it and its data" }).click();
      await page.getByTestId("volume-error").filter({ hasText: "volume data is mounted by web.1" }).waitFor({ timeout: 30_000 });
      assert.equal((await paasJson<unknown[]>(["volumes", "-a", APP])).length, 1);
      await row.getByLabel("force removal of data").check();
      await row.getByRole("button", { name: "Delete it and its data" }).click();
      await page.getByTestId("volume-status").filter({ hasText: "Removed volume data and its data (1 replica replaced without it)" }).waitFor({ timeout: 180_000 });
      await page.waitForFunction(() => !document.querySelector("[data-testid=volume-row]"));
      assert.deepEqual(await paasJson(["volumes", "-a", APP]), []);
      assert.equal((await viaRouter(p, APP)).status, 200);
    });
    await page.context().close();
  });

  test("app settings: the deploy branch, previews and the outbound network change, as the CLI and git see; bad input changes nothing", async () => {
    const page = await signedIn(p.adminToken);
    await explained(page, "settings-app", async () => {
      await page.goto(settingsUrl());
      const save = page.getByTestId("build-settings-form").getByRole("button", { name: "Save" });
      await page.fill("#settings-deploy-branch", "bad..branch");
      await save.click();
      await page.getByTestId("build-settings-error").filter({ hasText: "deployBranch: a branch name does not start with" }).waitFor({ timeout: 30_000 });
      await page.fill("#settings-deploy-branch", "prod");
      await save.click();
      await page.getByTestId("build-settings-status").filter({ hasText: "deploys from prod" }).waitFor({ timeout: 30_000 });
      assert.equal((await paasJson<{ deployBranch: string }>(["apps:info", "-a", APP])).deployBranch, "prod");
      // A new commit (pushing what the repository has already sends nothing to refuse).
      await commitChange(repo, "NOTE.md", "not deployed\n", "a push of main, no longer the deploy branch");
      const refused = await gitPush();
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /only the "prod" branch deploys; to deploy "main" run: git push paas main:prod/);
      await page.fill("#settings-deploy-branch", "main");

      assert.equal((await paasJson<Info>(["apps:info", "-a", APP])).settings.previews, false);
      await page.check("#settings-previews");
      await page.selectOption("#settings-build-mode", "supersede");
      await save.click();
      await page.getByTestId("build-settings-status").filter({ hasText: "deploys from main, previews on, build mode supersede" }).waitFor({ timeout: 30_000 });
      const info = await paasJson<Info & { deployBranch: string; settings: { buildMode: string } }>(["apps:info", "-a", APP]);
      assert.deepEqual([info.deployBranch, info.settings.previews, info.settings.buildMode], ["main", true, "supersede"]);

      await page.getByLabel("outbound network limited").check();
      await page.fill("#settings-egress-allow", "10.1.2.3");
      await page.getByTestId("egress-form").getByRole("button", { name: "Apply" }).click();
      await page.getByTestId("egress-error").filter({ hasText: "no port" }).waitFor({ timeout: 30_000 });
      assert.equal((await paasJson<Info>(["apps:info", "-a", APP])).settings.egress, "on");

      await page.getByLabel("outbound network off").check();
      await page.getByTestId("egress-form").getByRole("button", { name: "Apply" }).click();
      await page.getByTestId("egress-status").filter({ hasText: /outbound network off: released v\d+/ }).waitFor({ timeout: 180_000 });
      await page.getByTestId("egress-now").filter({ hasText: "off" }).waitFor();
      assert.equal((await paasJson<Info>(["apps:info", "-a", APP])).settings.egress, "off");
      assert.equal((await viaRouter(p, APP)).status, 200);
      await page.screenshot({ path: shotPath("settings-app.png"), fullPage: true });
    });
    await page.context().close();
  });

  test("transfer: an operator moves the app to another team and back", async () => {
    await addTeamWithToken(p.dataDir, "blue", "blue-admin@example.com");
    const page = await signedIn(p.adminToken);
    await explained(page, "settings-transfer", async () => {
      await page.goto(settingsUrl());
      await page.fill("#transfer-team", "no-such-team");
      await page.getByRole("button", { name: "Transfer" }).click();
      await page.getByTestId("transfer-error").filter({ hasText: 'team "no-such-team" not found' }).waitFor({ timeout: 30_000 });
      assert.equal((await paasJson<Info>(["apps:info", "-a", APP])).team, "main");
      await page.fill("#transfer-team", "blue");
      await page.getByRole("button", { name: "Transfer" }).click();
      await page.getByTestId("transfer-status").filter({ hasText: `Moved ${APP} from main to blue (its replicas restarted under blue's limits)` }).waitFor({ timeout: 180_000 });
      assert.equal((await paasJson<Info>(["apps:info", "-a", APP])).team, "blue");
      assert.equal((await viaRouter(p, APP)).status, 200);
      const back = await paas(["apps:transfer", "main", "-a", APP]);
      assert.equal(back.code, 0, back.stderr);
    });
    await page.context().close();
  });

  test("a viewer sees the settings and no form or button", async () => {
    const t = await paasJson<{ token: string }>(["tokens:create", "--team", "main", "--role", "viewer", "--name", "viewer"]);
    const page = await signedIn(t.token);
    await explained(page, "settings-viewer", async () => {
      await page.goto(settingsUrl());
      await page.getByTestId("viewer-note").waitFor();
      await page.getByTestId("previews-now").filter({ hasText: "on" }).waitFor();
      assert.equal(await page.getByTestId("egress-now").innerText(), "off");
      assert.equal(await page.locator("main form").count(), 0);
      assert.equal(await page.locator("main button, main input, main textarea, main select").count(), 0);
      assert.equal(await page.getByTestId("danger-zone").count(), 0);
      await page.screenshot({ path: shotPath("settings-viewer.png"), fullPage: true });
    });
    await page.context().close();
  });

  test("destroying the app takes its typed name, then the list no longer has it and its URL is the router's 404", async () => {
    const page = await signedIn(p.adminToken);
    await explained(page, "settings-destroy", async () => {
      await page.goto(settingsUrl());
      const destroy = page.getByRole("button", { name: "Destroy app" });
      await page.fill("#destroy-confirm", "settle");
      assert.equal(await destroy.isDisabled(), true);
      await page.screenshot({ path: shotPath("settings-danger.png"), fullPage: true });
      await page.fill("#destroy-confirm", APP);
      await destroy.click();
      await page.waitForURL(`${p.webUrl}/`, { timeout: 300_000 });
      await page.getByRole("heading", { level: 1 }).waitFor();
      assert.equal(await page.getByTestId("app-row").filter({ hasText: APP }).count(), 0);
      assert.deepEqual(await paasJson(["apps"]), []);
      await waitFor(async () => (await viaRouter(p, APP)).status === 404, `the router to answer ${APP} with 404`);
    });
    await page.context().close();
  });
});
