/**
 * The dashboard in Debian's Chromium against a whole platform (./infra/up with
 * a worker): a real `git push` whose build log grows live on the build's page,
 * config vars set, revealed and removed from the app's page (each change a new
 * release), another team refused, and the releases list.
 *
 *   flock /tmp/e2e.lock npx tsx --test tests/browser/deploys.test.ts
 */
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { addTeamWithToken, commitChange, fixtureRepo, ROOT, sh, startPlatform, viaRouter, type Platform, pushApp } from "../helpers/platform.ts";
import { shotPath, signIn, launchChromium } from "./helpers.ts";

const APP = "live";
const SECRET = `s3cr3t-${Math.random().toString(36).slice(2, 10)}`;
const MASK = "••••••••";

let p: Platform;
let browser: Browser;
let otherToken = "";
/** The app's git work tree, pushed by the first test. */
let repo = "";

const paas = (args: string[]) =>
  sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

/** One tRPC call over HTTP, as the dashboard's client makes it (superjson envelope). */
async function trpc(proc: string, input: unknown, auth: { token?: string; page?: Page }, kind: "query" | "mutation" = "query") {
  const url = `${p.webUrl}/api/trpc/${proc}`;
  const body = JSON.stringify({ json: input });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (auth.page) {
    // The page's own cookies: the same session the browser has, and the dashboard client's CSRF header.
    headers["x-paas-csrf"] = "1";
    const res =
      kind === "mutation"
        ? await auth.page.request.post(url, { data: body, headers })
        : await auth.page.request.get(`${url}?input=${encodeURIComponent(body)}`, { headers });
    return { status: res.status(), text: await res.text() };
  }
  const res = kind === "mutation" ? await fetch(url, { method: "POST", body, headers }) : await fetch(`${url}?input=${encodeURIComponent(body)}`, { headers });
  return { status: res.status, text: await res.text() };
}

function push(repo: string) {
  return pushApp(p, APP, repo);
}

async function builds(): Promise<{ id: string; status: string }[]> {
  const r = await trpc("builds.list", { app: APP }, { token: p.adminToken });
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text).result.data.json;
}

async function releases(): Promise<{ version: number; status: string; description: string }[]> {
  const r = await trpc("releases.list", { app: APP }, { token: p.adminToken });
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text).result.data.json;
}

async function answer(): Promise<{ release: string; greeting: string | null }> {
  const r = await viaRouter(p, APP);
  assert.equal(r.status, 200, `router answered ${r.status}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body);
}

async function signedIn(token: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  return signIn(page, p.webUrl, token);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("dashboard on a running platform", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("dash", 3950);
    const created = await paas(["apps:create", APP]);
    assert.equal(created.code, 0, created.stderr + created.stdout);
    browser = await launchChromium();
    otherToken = await addTeamWithToken(p.dataDir);
  });

  after(async () => {
    await browser?.close();
    await p?.stop();
    // Only once nothing is mounted under it (a container's rootfs would be emptied through its mount).
    if (p && !(await fs.readFile("/proc/mounts", "utf8")).includes(p.dataDir)) await fs.rm(p.dataDir, { recursive: true, force: true });
  });

  test("a build's page shows its log while it runs, then its status and the app's URL", async () => {
    repo = await fixtureRepo("node-slow-build");
    const pushing = push(repo);
    const page = await signedIn(p.adminToken);
    const build = await waitFor("the push's build", async () => (await builds())[0]);
    await page.goto(`${p.webUrl}/apps/${APP}/builds/${build.id}`);
    // Survives only if the document is never reloaded.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const log = page.getByTestId("build-log");

    // The build script prints a line, waits 10 s, prints another: the first must show while the second is not printed yet.
    await page.waitForFunction(() => document.querySelector("[data-testid=build-log]")?.textContent?.includes("slow-build: step one done"), null, {
      timeout: 120_000,
    });
    const early = await log.innerText();
    const [now] = await builds();
    assert.equal(now.status, "building", "the build is still running when its first line shows");
    assert.ok(!early.includes("slow-build: step two done"), `the second line is not there yet:\n${early}`);
    assert.match(early, /-----> Running build script/);
    await page.screenshot({ path: shotPath("dashboard-live-build.png"), fullPage: true });

    // The app's page follows the same log in its "latest build" panel (the stored log is written only at the end).
    const appPage = await page.context().newPage();
    await appPage.goto(`${p.webUrl}/apps/${APP}`);
    await appPage.getByTestId("build-log").filter({ hasText: "slow-build: step one done" }).waitFor({ timeout: 10_000 });
    assert.ok(!(await appPage.getByTestId("build-log").innerText()).includes("slow-build: step two done"));
    assert.equal((await builds())[0].status, "building");

    await page.waitForFunction(() => document.querySelector("[data-testid=build-log]")?.textContent?.includes("slow-build: step two done"), null, {
      timeout: 60_000,
    });
    // Then the final status and the URL, without a reload by the user.
    await page.locator("h1 ~ [data-status=succeeded]").waitFor({ timeout: 60_000 });
    const url = page.getByTestId("app-url");
    assert.equal(await url.getAttribute("href"), `http://${APP}.localhost:${p.routerPort}/`);
    const final = await log.innerText();
    assert.match(final, new RegExp(`Deployed v1 to http://${APP}\\.localhost:${p.routerPort}/`));
    assert.ok(final.indexOf("step one done") < final.indexOf("step two done"));
    assert.ok(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), "the log grew in place: no reload");
    await page.screenshot({ path: shotPath("dashboard-build-done.png"), fullPage: true });

    const pushed = await pushing;
    assert.equal(pushed.code, 0, pushed.stderr + pushed.stdout);
    assert.deepEqual(await answer(), { release: "v1", greeting: null });
    // The app's page ends on the stored log and the new release.
    await appPage.getByTestId("release-row").filter({ hasText: "v1" }).waitFor({ timeout: 30_000 });
    await appPage.getByTestId("build-log").filter({ hasText: "slow-build: step two done" }).waitFor({ timeout: 30_000 });
    await page.context().close();
  });

  test("a config var added on the app's page makes a release; its value stays masked until revealed", async () => {
    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}`);
    assert.equal(await page.getByTestId("release-row").count(), 1);

    const form = page.getByTestId("config-form");
    await form.getByLabel("Name").fill("GREETING");
    await form.getByLabel("Value").fill(SECRET);
    await form.getByRole("button", { name: "Set" }).click();
    await page.getByTestId("config-status").filter({ hasText: "v2" }).waitFor({ timeout: 120_000 });
    await page.getByTestId("release-row").nth(1).waitFor();
    assert.equal(await page.getByTestId("release-row").count(), 2);
    assert.match(await page.getByTestId("release-row").first().innerText(), /v2[\s\S]*active/);
    assert.equal(await form.getByLabel("Name").inputValue(), "", "the form is cleared for the next var");
    assert.deepEqual(await answer(), { release: "v2", greeting: SECRET });

    // Masked: neither the list nor the page's HTML holds the value.
    const row = page.getByTestId("config-var").filter({ hasText: "GREETING" });
    assert.equal(await row.getByTestId("config-value").innerText(), MASK);
    await page.reload();
    assert.ok(!(await page.content()).includes(SECRET), "the server never puts the value in the page");
    await row.getByRole("button", { name: "Reveal" }).click();
    await row.getByTestId("config-value").filter({ hasText: SECRET }).waitFor();
    await page.screenshot({ path: shotPath("dashboard-config.png"), fullPage: true });
    await row.getByRole("button", { name: "Hide" }).click();
    assert.equal(await row.getByTestId("config-value").innerText(), MASK);
    // Nor do the platform's own logs (web, worker, router, agent, Redis).
    const logDir = path.join(p.dataDir, "logs");
    for (const f of await fs.readdir(logDir)) {
      assert.ok(!(await fs.readFile(path.join(logDir, f), "utf8")).includes(SECRET), `${f} does not hold the value`);
    }
    await page.context().close();
  });

  test("the config form explains a bad name and changes nothing", async () => {
    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}`);
    const form = page.getByTestId("config-form");
    const error = page.getByTestId("config-error");
    const cases: [string, string, RegExp][] = [
      ["", "x", /Enter a name/],
      ["1BAD", "x", /"1BAD" is not a valid name: use letters, digits and underscores/],
      ["MY-VAR", "x", /"MY-VAR" is not a valid name/],
      ["PORT", "80", /PORT is set by the platform/],
    ];
    for (const [name, value, message] of cases) {
      await form.getByLabel("Name").fill(name);
      await form.getByLabel("Value").fill(value);
      await form.getByRole("button", { name: "Set" }).click();
      await error.filter({ hasText: message }).waitFor({ timeout: 5000 });
    }
    await page.screenshot({ path: shotPath("dashboard-config-error.png"), fullPage: true });
    // A value the server refuses (over 32 KB): its reason, in words, and nothing saved.
    await form.getByLabel("Name").fill("BIG");
    await form.getByLabel("Value").fill("x".repeat(33 * 1024));
    await form.getByRole("button", { name: "Set" }).click();
    await error.filter({ hasText: /the value of BIG is larger than 32 KB/ }).waitFor();
    assert.equal((await releases()).length, 2, "no release for refused input");
    assert.equal(await page.getByTestId("config-var").count(), 1);
    await page.context().close();
  });

  test("another team's member cannot open the app nor reveal its config", async () => {
    const page = await signedIn(otherToken);
    const res = await page.goto(`${p.webUrl}/apps/${APP}`);
    assert.equal(res?.status(), 404);
    assert.ok(!(await page.content()).includes(SECRET));
    // The call the Reveal button makes, with this user's session, and with their API token.
    for (const auth of [{ page }, { token: otherToken }]) {
      const reveal = await trpc("config.reveal", { app: APP, key: "GREETING" }, auth, "mutation");
      assert.equal(reveal.status, 404, reveal.text);
      assert.ok(!reveal.text.includes(SECRET));
      assert.match(reveal.text, /not found \(or you have no access to it\)/);
      const all = await trpc("config.get", { app: APP, reveal: true }, auth);
      assert.equal(all.status, 404, all.text);
      assert.ok(!all.text.includes(SECRET));
      const set = await trpc("config.set", { app: APP, vars: { GREETING: "pwned" } }, auth, "mutation");
      assert.equal(set.status, 404, set.text);
    }
    await page.context().close();
  });

  test("a cross-site style POST with the admin's session cookie (a form's body, no CSRF header) is refused and changes nothing", async () => {
    const page = await signedIn(p.adminToken);
    const before = await releases();
    const url = `${p.webUrl}/api/trpc/config.set`;
    const json = JSON.stringify({ json: { app: APP, vars: { GREETING: "forged" } } });
    for (const [what, opts] of [
      ["a urlencoded form", { form: { GREETING: "forged" } }],
      ["a multipart form", { multipart: { app: APP, GREETING: "forged" } }],
      ["JSON without the header", { data: json, headers: { "content-type": "application/json" } }],
    ] as const) {
      const res = await page.request.post(url, opts);
      assert.equal(res.status(), 403, `${what}: ${await res.text()}`);
      assert.match(await res.text(), /cross-site request refused/);
    }
    assert.equal((await releases()).length, before.length, "no release was made");
    assert.equal((await answer()).greeting, SECRET);
    assert.equal((await answer()).greeting, SECRET);
    await page.context().close();
  });

  test("removing a config var from the app's page makes a release without it", async () => {
    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}`);
    const row = page.getByTestId("config-var").filter({ hasText: "GREETING" });
    await row.getByRole("button", { name: "Remove" }).click();
    // A second click confirms: one stray click does not redeploy the app.
    assert.equal((await releases()).length, 2);
    await row.getByRole("button", { name: "Confirm removal" }).click();
    await page.getByTestId("config-status").filter({ hasText: "v3" }).waitFor({ timeout: 120_000 });
    await page.getByTestId("release-row").nth(2).waitFor();
    assert.equal(await page.getByTestId("config-var").count(), 0);
    assert.deepEqual(await answer(), { release: "v3", greeting: null });
    await page.context().close();
  });

  test("the releases list shows each release, newest first, with what made it", async () => {
    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}`);
    const rows = page.getByTestId("release-row");
    assert.equal(await rows.count(), 3);
    const texts = await rows.allInnerTexts();
    assert.match(texts[0], /^v3\s[\s\S]*active[\s\S]*Unset GREETING/);
    assert.match(texts[1], /^v2\s[\s\S]*Set GREETING/);
    assert.match(texts[2], /^v1\s[\s\S]*Deploy/);
    for (const t of texts.slice(1)) assert.doesNotMatch(t, /active/, "only the newest release is active");
    assert.deepEqual(
      (await releases()).map((r) => r.version),
      [3, 2, 1],
    );
    await page.screenshot({ path: shotPath("dashboard-releases.png"), fullPage: true });
    await page.context().close();
  });

  test("a config var set on an app without a release waits for its first push, and says so", async () => {
    assert.equal((await paas(["apps:create", "undeployed"])).code, 0);
    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/apps/undeployed`);
    const form = page.getByTestId("config-form");
    await form.getByLabel("Name").fill("DATABASE_URL");
    await form.getByLabel("Value").fill("postgres://db/x");
    await form.getByRole("button", { name: "Set" }).click();
    await page.getByTestId("config-status").filter({ hasText: /Set DATABASE_URL: no release yet: the config applies from the next push/ }).waitFor();
    await page.getByTestId("config-var").filter({ hasText: "DATABASE_URL" }).waitFor();
    assert.equal(await page.getByTestId("release-row").count(), 0);
    await page.context().close();
  });

  test("a failing build's page ends with its error and no app URL; the running release stays", async () => {
    await commitChange(
      repo,
      "build.js",
      'console.log("compiling");\nsetTimeout(() => { console.error("error TS2322: boom"); process.exit(2); }, 4000);\n',
      "a build that fails",
    );
    const before = (await builds()).length;
    const pushing = push(repo);
    const build = await waitFor("the failing push's build", async () => (await builds()).length > before && (await builds())[0]);
    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}/builds/${build.id}`);
    await page.locator("h1 ~ [data-status=failed]").waitFor({ timeout: 120_000 });
    const log = await page.getByTestId("build-log").innerText();
    assert.match(log, /compiling[\s\S]*error TS2322: boom/);
    assert.match(await page.getByTestId("build-error").innerText(), /the build failed \(exit code 2\)/);
    assert.equal(await page.getByTestId("app-url").count(), 0, "no URL for a build that deployed nothing");
    await page.screenshot({ path: shotPath("dashboard-build-failed.png"), fullPage: true });
    const pushed = await pushing;
    assert.notEqual(pushed.code, 0, "the push is rejected");
    assert.match(pushed.stderr, /\[remote rejected\]/);
    assert.deepEqual(await answer(), { release: "v3", greeting: null });
    await page.context().close();
  });

  test("a push queued behind another shows as waiting on its page, then building, then deployed", async () => {
    await sh("git", ["reset", "-q", "--hard", "HEAD~1"], { cwd: repo }); // back to the slow build that works
    const count = (await builds()).length;
    await commitChange(repo, "first.txt", "A\n", "push A");
    const pushingA = push(repo);
    await waitFor("push A's build", async () => (await builds()).length === count + 1 && (await builds())[0].status === "building");
    await commitChange(repo, "second.txt", "B\n", "push B");
    const pushingB = push(repo);
    const b = await waitFor("push B's build", async () => {
      const all = await builds();
      return all.length === count + 2 && all[0];
    });

    const page = await signedIn(p.adminToken);
    await page.goto(`${p.webUrl}/apps/${APP}/builds/${b.id}`);
    const badge = page.locator("h1 ~ [data-status]");
    assert.equal(await badge.getAttribute("data-status"), "pending");
    const log = page.getByTestId("build-log");
    await log.filter({ hasText: /Waiting: build \S+ of this app is running; yours starts when it ends/ }).waitFor({ timeout: 30_000 });
    // Its turn: the badge follows without a reload, while its log still grows.
    await log.filter({ hasText: "slow-build: step one done" }).waitFor({ timeout: 60_000 });
    await page.locator("h1 ~ [data-status=building]").waitFor({ timeout: 5_000 });
    assert.ok(!(await log.innerText()).includes("slow-build: step two done"));
    await page.locator("h1 ~ [data-status=succeeded]").waitFor({ timeout: 60_000 });
    await page.getByTestId("app-url").waitFor();

    const [a, b2] = [await pushingA, await pushingB];
    assert.equal(a.code, 0, a.stderr + a.stdout);
    // B was sent while A's ref update was pending: git refuses B's ref (it expected main before A),
    // after the platform deployed it; the pusher is told so.
    assert.match(b2.stderr, /Deployed v5 to/);
    assert.match(b2.stderr, /another push moved main while this build waited/);
    assert.deepEqual(await answer(), { release: "v5", greeting: null });
    await page.context().close();
  });
});
