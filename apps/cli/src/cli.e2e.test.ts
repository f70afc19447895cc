/**
 * The `paas` command as people run it (bin/paas), against the real API
 * server (`next start`) on its own port and data dir.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { bootstrappedDataDir, repoRoot } from "../../web/src/server/testing/platform.ts";
import { startWeb, type WebServer } from "../../web/src/server/testing/server.ts";

const bin = path.join(repoRoot, "apps/cli/bin/paas");
const { dataDir, token } = bootstrappedDataDir("paas-cli-e2e-");
const home = mkdtempSync(path.join(os.tmpdir(), "paas-cli-home-"));
const work = mkdtempSync(path.join(os.tmpdir(), "paas-cli-repo-"));

let web: WebServer;

function paas(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, NO_COLOR: "1", ...opts.env };
  const r = spawnSync(bin, args, { cwd: opts.cwd ?? work, env, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  web = await startWeb(dataDir);
});

after(async () => {
  await web?.stop();
  for (const d of [dataDir, home, work]) rmSync(d, { recursive: true, force: true });
});

test("without credentials it says how to log in", () => {
  const r = paas(["apps"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "error not logged in: run `paas login`, or set PAAS_URL and PAAS_TOKEN\n");
});

test("login verifies the token and stores it mode 600; a wrong token is refused", () => {
  const bad = paas(["login", "--url", web.url, "--token", "paas_wrong"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error the token was not accepted/);
  assert.equal(bad.stderr.trim().split("\n").length, 1, "one line, no stack");

  const ok = paas(["login", "--url", web.url, "--token", token]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Logged in to http:\/\/127\.0\.0\.1:\d+ as admin@paas.localhost/);
  const file = path.join(home, ".config/paas/credentials.json");
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), { url: web.url, token });
});

test("apps:create, apps, and the app resolved from the git remote", () => {
  const created = paas(["apps:create", "cli-app", "--json"]);
  assert.equal(created.code, 0, created.stderr);
  const app = JSON.parse(created.stdout);
  assert.equal(app.name, "cli-app");
  assert.equal(app.team, "main");
  assert.equal(app.gitUrl, `${web.url}/git/cli-app.git`);

  const dup = paas(["apps:create", "cli-app"]);
  assert.equal(dup.code, 1);
  assert.equal(dup.stderr, 'error the app name "cli-app" is taken: choose another\n');
  const bad = paas(["apps:create", "Bad_Name"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error name: app names use lowercase letters/);

  const list = JSON.parse(paas(["apps", "--json"]).stdout);
  assert.deepEqual(list.map((a: { name: string }) => a.name), ["cli-app"]);
  assert.match(paas(["apps"]).stdout, /^NAME\s+TEAM\s+RELEASE\s+BUILD\s+URL\ncli-app\s+main\s+none\s+none\s+http:\/\/cli-app\.localhost:\d+\/\n$/);

  execFileSync("git", ["init", "-q", work]);
  assert.match(paas(["apps:info"]).stderr, /no app given: pass -a APP/);
  const remote = paas(["git:remote", "cli-app"]);
  assert.equal(remote.code, 0, remote.stderr);
  assert.equal(execFileSync("git", ["-C", work, "remote", "get-url", "paas"], { encoding: "utf8" }).trim(), `${web.url}/git/cli-app.git`);
  // git gets the token from the helper; it is not in the repository's config.
  assert.ok(!readFileSync(path.join(work, ".git/config"), "utf8").includes(token));
  const filled = execFileSync("git", ["-C", work, "credential", "fill"], {
    input: `protocol=http\nhost=${new URL(web.url).host}\npath=git/cli-app.git\n\n`,
    env: { PATH: process.env.PATH, HOME: home, GIT_TERMINAL_PROMPT: "0" },
    encoding: "utf8",
  });
  assert.match(filled, new RegExp(`password=${token}`));

  const info = JSON.parse(paas(["apps:info", "--json"]).stdout);
  assert.equal(info.name, "cli-app");
  assert.equal(info.latestRelease, null);
  assert.deepEqual(JSON.parse(paas(["builds", "--json"]).stdout), []);
  assert.deepEqual(JSON.parse(paas(["releases", "-a", "cli-app", "--json"]).stdout), []);
  assert.match(paas(["builds:logs"]).stderr, /has no builds yet/);
});

test("PAAS_URL and PAAS_TOKEN override the stored credentials", () => {
  const r = paas(["apps"], { env: { PAAS_TOKEN: "paas_nope" } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /token was not accepted/);
  const down = paas(["apps"], { env: { PAAS_URL: "http://127.0.0.1:9" } });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^error cannot reach the PaaS API at http:\/\/127\.0\.0\.1:9/);
  const missing = paas(["apps:info", "-a", "nope"]);
  assert.equal(missing.stderr, 'error app "nope" not found (or you have no access to it)\n');
});
