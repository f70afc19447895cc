/**
 * Ordinary apps build (issue 10): each test a real `git push` of a fixture app that builds
 * in the build image, deploys and answers through the router. Packages come from the
 * host's own package indexes (the npm registry; pip's local indexes from its config).
 * Ports 4400-4491.
 *
 * pip's settings are the host's own: here a local index besides the default pypi.org, which
 * this machine cannot reach and the build leaves out (pip-reachable.ts).
 */
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { AgentClient } from "@paas/shared";
import { ROOT, commitChange, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

let p: Platform;
/** A token in the host's npm config (a scope nothing here uses): never in a layer, an image's config or the log. */
const NPM_TOKEN = "npm_h4SecretTokenValue0123456789";

const paas = (args: string[]) =>
  sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function createApp(name: string) {
  const r = await paas(["apps:create", name]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
}

async function push(fixture: string, app: string) {
  await createApp(app);
  const repo = await fixtureRepo(fixture);
  const t0 = Date.now();
  const url = `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app}.git`;
  const r = await sh("git", ["push", url, "main"], { cwd: repo, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  const out = r.stderr + r.stdout;
  console.log(`${fixture}: push ${r.code === 0 ? "deployed" : "rejected"} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { ...r, out, repo };
}

async function answer(app: string, urlPath = "/") {
  const r = await viaRouter(p, app, urlPath);
  assert.equal(r.status, 200, `router answered ${r.status}: ${r.body.slice(0, 300)}`);
  return r.body;
}

describe("stacks: ordinary apps build", { timeout: 30 * 60_000 }, () => {
  let npmrcDir = "";
  before(async () => {
    npmrcDir = await fs.mkdtemp(path.join(os.tmpdir(), "paas-stacks-npmrc-"));
    const npmrc = path.join(npmrcDir, "npmrc");
    await fs.writeFile(npmrc, `@h4-unused:registry=http://127.0.0.1:9/\n//127.0.0.1:9/:_authToken=${NPM_TOKEN}\n`);
    // (lower case: npx exports npm_config_userconfig to what it runs, this test included)
    p = await startPlatform("stacks", 4400, { npm_config_userconfig: npmrc });
    // One app per stack: more than a team's default 10 (and its 16 replicas of the default size).
    const q = await paas(["quotas:set", "apps=30", "memory=8G", "cpus=8", "--team", "main"]);
    assert.equal(q.code, 0, q.stderr + q.stdout);
  });
  after(async () => {
    await p?.stop();
    if (npmrcDir) await fs.rm(npmrcDir, { recursive: true, force: true });
  });

  /** The app's image runs on the run stack: stack/<x>'s layers first, none of the build stack's own. */
  async function assertOnRunStack(app: string, stack: "node" | "python") {
    const agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    const img = (await agent.images()).find((i) => i.names.some((n) => n.startsWith(`app/${app}:`)));
    assert.ok(img, `an image of ${app}`);
    const run = await agent.image(`stack/${stack}`);
    const build = await agent.image(`stack/${stack}-build`);
    assert.deepEqual(img.layers.slice(0, run.layers.length), run.layers, "built on the run stack");
    const compilers = build.layers.filter((l) => !run.layers.includes(l));
    assert.ok(compilers.length > 0 && compilers.every((l) => !img.layers.includes(l)), "no layer of the build stack's own");
  }

  test("Express + TypeScript: tsc from devDependencies in the build image, pruned, served on stack/node", async () => {
    const r = await push("node-ts-express", "tsx");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Using Node 20\.\d+\.\d+ \(engines\.node ">=20"\)/);
    assert.match(r.out, /Running build script \(npm run build\)/);
    assert.match(r.out, /Pruning devDependencies/);
    assert.deepEqual(JSON.parse(await answer("tsx")), { message: "express + typescript", typescript: true });
    await assertOnRunStack("tsx", "node");
  });

  test("pnpm (pnpm-lock.yaml): installed from the lockfile, its build script run with pnpm, devDependencies pruned with pnpm", async () => {
    const r = await push("node-pnpm", "pnpm");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Package manager: pnpm 9\.\d+\.\d+ \(pnpm-lock\.yaml\)/);
    assert.match(r.out, /Installing dependencies \(pnpm install --frozen-lockfile\)/);
    assert.match(r.out, /Running build script \(pnpm run build\)/);
    assert.match(r.out, /Pruning devDependencies \(pnpm prune --prod\)/);
    assert.deepEqual(JSON.parse(await answer("pnpm")), { pm: "pnpm", twoDays: 172800000, builtWithDevDep: true, devDepInImage: false });
  });

  test("Yarn 1 (yarn.lock) installs from the lockfile, and yarn is in the image for a Procfile's `web: yarn start`", async () => {
    const r = await push("node-yarn", "yarnone");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Installing dependencies \(yarn install --frozen-lockfile --non-interactive\)/);
    assert.deepEqual(JSON.parse(await answer("yarnone")), { pm: "yarn", twoDays: 172800000 });
  });

  test('Yarn 4 named by package.json\'s "packageManager" installs its Yarn 2+ lockfile into node_modules', async () => {
    const r = await push("node-yarn-berry", "yarnberry");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Package manager: yarn 4\.9\.2 \("packageManager": "yarn@4\.9\.2"\)/);
    assert.match(r.out, /Installing dependencies \(yarn install --immutable\)/);
    assert.equal((JSON.parse(await answer("yarnberry")) as { twoDays: number }).twoDays, 172800000);
  });

  test("Vite: npm run build to dist/, served as a static site without node_modules", async () => {
    const r = await push("vite-static", "vite");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /A static build \("build" script, no "start"\)/);
    assert.match(r.out, /Serving dist\/ as a static site/);
    const html = await answer("vite");
    assert.match(html, /built by vite/);
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, `a bundled script in: ${html}`);
    assert.match(await answer("vite", script), /hello from a vite bundle/);
    assert.equal((await viaRouter(p, "vite", "/node_modules/vite/package.json")).status, 404);
  });

  test("a Dockerfile FROM node:20-slim installs curl with apt-get through the host's apt sources", async () => {
    const r = await push("dockerfile-apt", "aptcurl");
    assert.equal(r.code, 0, r.out);
    assert.match(JSON.parse(await answer("aptcurl")).curl, /^curl \d+\.\d+/);
  });

  test("better-sqlite3 built from source by node-gyp (.npmrc build_from_source) against the host's Node headers", async () => {
    const r = await push("node-sqlite", "sqlite");
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /prebuild-install.*(Downloading|downloaded)/i);
    const body = JSON.parse(await answer("sqlite"));
    assert.equal(body.total, 42);
    assert.match(body.sqlite, /^3\.\d+/);
    await assertOnRunStack("sqlite", "node");
  });

  test("a Python C extension built from its source tree (requirements: ./vendor/fastsum) in the build image", async () => {
    const r = await push("python-cext", "cext");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Successfully installed fastsum/);
    assert.deepEqual(JSON.parse(await answer("cext")), { fastsum: 499500, compiled: true });
    await assertOnRunStack("cext", "python");
  });

  test("Flask + gunicorn from requirements.txt, through the host's pip indexes", async () => {
    const r = await push("python-flask", "flask");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Successfully installed .*flask/i);
    const body = JSON.parse(await answer("flask"));
    assert.equal(body.message, "flask on gunicorn");
    await assertOnRunStack("flask", "python");
  });

  test("Django on gunicorn from requirements.txt, with no time lost on an index that does not answer", async () => {
    const r = await push("python-django", "django");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Successfully installed .*Django-5/i);
    assert.doesNotMatch(r.out, /Retrying/, "pip retried no index");
    const body = JSON.parse(await answer("django"));
    assert.equal(body.framework, "django");
    assert.equal((await viaRouter(p, "django", "/admin/")).status, 302, "Django's admin redirects to its login");
  });

  test("Pipenv: Pipfile.lock's default packages installed with their hashes checked, its develop ones not", async () => {
    const r = await push("python-pipenv", "pipenv");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Installing from Pipfile\.lock \(8 packages, hashes checked\)/);
    assert.deepEqual(JSON.parse(await answer("pipenv")), { message: "pipenv on gunicorn", flask: "3.1.3", pytest: false });
    await assertOnRunStack("pipenv", "python");
  });

  test("Poetry: poetry.lock's main group, then the project itself (a package: pip install --no-deps .)", async () => {
    const r = await push("python-poetry", "poetry");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Installing from poetry\.lock \(8 packages, hashes checked\)/);
    assert.match(r.out, /Installing the app \(pip install --no-deps \.\)/);
    assert.match(r.out, /Successfully installed hello-poetry-0\.3\.0/);
    assert.deepEqual(JSON.parse(await answer("poetry")), { message: "poetry on gunicorn", flask: "3.1.3", project: "0.3.0", pytest: false });
  });

  test("uv: uv.lock's dependencies of a virtual project (FastAPI on uvicorn), its dev group not", async () => {
    const r = await push("python-uv", "uvapp");
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Installing from uv\.lock \(14 packages, hashes checked\)/);
    assert.match(r.out, /-----> Adding the app/, "a virtual project is not installed");
    assert.deepEqual(JSON.parse(await answer("uvapp")), { message: "fastapi on uvicorn", fastapi: "0.142.2", pydantic: "2.13.5", pytest: false });
  });

  test("a lock pinning what the index has not, or a hash that does not match, fails with pip's reason; a Pipfile without its lock is refused; the release keeps serving", async () => {
    const app = "pipenvbad";
    const r = await push("python-pipenv", app);
    assert.equal(r.code, 0, r.out);
    const lock = JSON.parse(await fs.readFile(path.join(r.repo, "Pipfile.lock"), "utf8"));
    lock.default.flask.version = "==9.9.9";
    await commitChange(r.repo, "Pipfile.lock", JSON.stringify(lock, null, 4), "flask 9.9.9");
    const missing = await pushApp(p, app, r.repo);
    assert.notEqual(missing.code, 0, missing.stderr);
    assert.match(missing.stderr, /pip could not install what Pipfile\.lock pins: .*No matching distribution found for flask==9\.9\.9/);
    lock.default.flask.version = "==3.1.3";
    lock.default.flask.hashes = [`sha256:${"0".repeat(64)}`];
    await commitChange(r.repo, "Pipfile.lock", JSON.stringify(lock, null, 4), "a wrong hash");
    const tampered = await pushApp(p, app, r.repo);
    assert.notEqual(tampered.code, 0, tampered.stderr);
    assert.match(tampered.stderr, /pip could not install what Pipfile\.lock pins: the hashes of these packages do not match the lock: flask==3\.1\.3/);
    await fs.rm(path.join(r.repo, "Pipfile.lock"));
    await commitChange(r.repo, "Pipfile", await fs.readFile(path.join(r.repo, "Pipfile"), "utf8"), "no lock");
    const unlocked = await pushApp(p, app, r.repo);
    assert.notEqual(unlocked.code, 0, unlocked.stderr);
    assert.match(unlocked.stderr, /Pipfile has no Pipfile\.lock beside it: run `pipenv lock` and commit Pipfile\.lock/);
    assert.equal(JSON.parse(await answer(app)).flask, "3.1.3", "the first release still serves");
  });

  test("no secret of the host's package config reaches a layer, an image's config or the build log", async () => {
    // node-deps installs from the registry with the host's npm config, which holds a token
    const r = await push("node-deps", "secrets");
    assert.equal(r.code, 0, r.out);
    assert.ok(!r.out.includes(NPM_TOKEN), "the token is not in the build log");
    // every file of the runtime: layers, image configs and manifests, what containers left
    const grep = await promisify(execFile)("grep", ["-rlF", NPM_TOKEN, path.join(p.dataDir, "runtime")]).catch((e: { code: number; stdout: string }) => e);
    assert.equal("code" in grep ? grep.code : 0, 1, `files holding the token: ${grep.stdout}`);
    const logs = await paas(["builds:logs", "-a", "secrets"]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.ok(!logs.stdout.includes(NPM_TOKEN));
  });
});
