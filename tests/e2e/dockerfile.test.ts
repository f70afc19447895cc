/**
 * Dockerfile builds end to end, beyond the basics of builders.test.ts: build args from the
 * app's config vars (and kept out of the log), COPY --from through the agent's image archive
 * route, COPY/ADD --chown, ADD of local tar archives, COPY destinations (WORKDIR + `COPY x .`),
 * five concurrent pushes committing one shared layer, and the layer cache kept bounded by image
 * retention. Real pushes to a platform of its own; ports 3900-3991.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createDb } from "@paas/db";
import { AgentClient } from "@paas/shared";
import { CACHE_KEYS_LABEL } from "../../worker/src/builders/dockerfile/cache.ts";
import { ROOT, commitChange, fixtureRepo, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

let p: Platform;
let agent: AgentClient;
let repo = "";
const TOKEN = `tok-${randomBytes(12).toString("hex")}`;
const OTHER = `other-${randomBytes(12).toString("hex")}`;

const paas = (args: string[]) =>
  sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });

async function push(dir: string, app: string) {
  const url = `http://git:${p.adminToken}@127.0.0.1:${p.env.PAAS_WEB_PORT}/git/${app}.git`;
  const r = await sh("git", ["push", url, "main"], { cwd: dir, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  return { ...r, out: r.stderr + r.stdout };
}

async function json(app: string) {
  const r = await viaRouter(p, app, "/");
  assert.equal(r.status, 200, `router answered ${r.status}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body);
}

async function lastBuildLog(app: string): Promise<string> {
  const db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
  try {
    return (await db.build.findFirstOrThrow({ where: { app: { name: app } }, orderBy: { createdAt: "desc" } })).log;
  } finally {
    await db.$disconnect();
  }
}

/** The app's Dockerfile cache names on the host, and the keys its newest image lists. */
async function cacheState(app: string) {
  const images = await agent.images();
  const names = images.flatMap((i) => i.names).filter((n) => n.startsWith(`cache/${app}/df:`)).sort();
  const appImages = images.filter((i) => i.names.some((n) => n.startsWith(`app/${app}:`)));
  return { names, appImages };
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

describe("Dockerfile builds", { timeout: 15 * 60_000 }, () => {
  before(async () => {
    // One image kept per app: the cache test sees an older build's cache go at once. Its own
    p = await startPlatform("dockerfile", 3900, { PAAS_KEEP_IMAGES: "1" });
    agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
  });
  after(async () => {
    await p?.stop();
  });

  test("build args from config vars, COPY --from, --chown by id and name, ADD of tar archives", async () => {
    assert.equal((await paas(["apps:create", "feat"])).code, 0);
    const set = await paas(["config:set", `BUILD_TOKEN=${TOKEN}`, `OTHER_SECRET=${OTHER}`, "GREETING=bonjour", "-a", "feat"]);
    assert.equal(set.code, 0, set.stderr + set.stdout);
    repo = await fixtureRepo("dockerfile-features");
    // The archives ADD unpacks, made here with the system's tar.
    const stage = await fs.mkdtemp(path.join(repo, ".stage-"));
    await fs.mkdir(path.join(stage, "v"));
    await fs.writeFile(path.join(stage, "v/v.txt"), "vendored\n");
    await fs.writeFile(path.join(stage, "p.txt"), "plain\n");
    assert.equal((await sh("tar", ["-C", stage, "-czf", path.join(repo, "vendor.tgz"), "v"])).code, 0);
    assert.equal((await sh("tar", ["-C", stage, "-cf", path.join(repo, "plain.tar"), "p.txt"])).code, 0);
    await fs.rm(stage, { recursive: true });
    await sh("git", ["add", "-A"], { cwd: repo });
    await sh("git", ["commit", "-qm", "archives"], { cwd: repo });

    const r = await push(repo, "feat");
    assert.equal(r.code, 0, r.out);
    const body = await json("feat");
    assert.deepEqual(body, {
      greeting: "bonjour",
      tokenSha256: sha256(TOKEN),
      other: "unset",
      builtLinkIsSymlink: true,
      followed: { isSymlink: false, text: "bonjour" },
      // By id; by name from the stack's /etc/passwd and /etc/group (the dir the copy made too, as
      // docker does); by names an earlier RUN added. Without --chown: root's (a USER root stage).
      owners: { server: "1234:2345", data: "1000:65534", dataDir: "1000:65534", byName: "4242:4343", plain: "4321:4321", vendor: "0:0" },
      stat: ["1234:2345 server.js", "1000:65534 data/x.txt", "4242:4343 tools.txt", "4321:4321 plain/p.txt"],
      vendor: ["v", "v/v.txt"],
      plain: ["p.txt"],
      vendorText: "vendored",
    });

    // The secrets: used by the build, never shown.
    const log = await lastBuildLog("feat");
    for (const text of [r.out, log]) {
      assert.ok(!text.includes(TOKEN) && !text.includes(OTHER), "no config value in the build log");
      assert.match(text, /building with token \*\*\*\*\*/, "the RUN's own echo is masked");
      assert.match(text, /Build args from the app's config vars: GREETING, BUILD_TOKEN \(values not shown\)/);
    }
    assert.match(r.out, /Step \d+\/\d+ : COPY --from=tools \/out \.\/built/);
    assert.match(r.out, /Unpacked vendor\.tgz \(tar, gzip\) into \/app\/vendor\s*$/m);
    const image = (await cacheState("feat")).appImages[0];
    assert.ok(!JSON.stringify(image.config).includes(TOKEN), "build args stay out of the image's config");
    assert.ok(image.config.labels?.[CACHE_KEYS_LABEL]);
  });

  test("an unknown --chown name and an ADD of a URL reject the push with their line; the release keeps serving", async () => {
    const text = await fs.readFile(path.join(repo, "Dockerfile"), "utf8");
    const lineOf = (prefix: string) => text.split("\n").findIndex((l) => l.startsWith(prefix)) + 1;

    await commitChange(repo, "Dockerfile", text.replace("COPY --chown=builder:builders", "COPY --chown=ghost"), "unknown user");
    const ghost = await push(repo, "feat");
    assert.notEqual(ghost.code, 0, ghost.out);
    assert.match(ghost.out, new RegExp(`Dockerfile line ${lineOf("COPY --chown=builder:builders")}: --chown=ghost: no user "ghost" in the image's /etc/passwd; use numeric ids instead \\(--chown=1000:1000\\)`));

    await commitChange(repo, "Dockerfile", text.replace("ADD vendor.tgz ./vendor/", "ADD https://example.com/vendor.tgz ./vendor/"), "remote ADD");
    const url = await push(repo, "feat");
    assert.notEqual(url.code, 0, url.out);
    assert.match(url.out, new RegExp(`Dockerfile line ${lineOf("ADD vendor.tgz")}: ADD https://example\\.com/vendor\\.tgz: downloading in ADD is not supported .*RUN curl`));
    assert.equal((await json("feat")).greeting, "bonjour");
    await commitChange(repo, "Dockerfile", text, "back");
  });

  test("COPY destinations as docker puts them: `.` and an existing dir are copied into, a trailing slash makes a dir", async () => {
    assert.equal((await paas(["apps:create", "workdir"])).code, 0);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "workdir-repo-"));
    const files: Record<string, string> = {
      Dockerfile: [
        "FROM stack/node",
        "USER root",
        "WORKDIR /src",
        "COPY gen.js .", // into /src (it made /src a file, and the RUN below failed: chdir /src: Not a directory)
        "COPY gen.js ./copy.js", // a file under a new name
        "RUN mkdir -p /srv/conf",
        "COPY a.txt /srv/conf", // an existing dir without a slash: into it
        "COPY a.txt b.txt lib/", // several sources: into a dir the copy makes
        "COPY a.* ./glob/",
        "COPY server.js ./",
        "RUN node gen.js > out.json",
        "USER app",
        'CMD ["node", "server.js"]',
      ].join("\n"),
      "gen.js": "console.log(JSON.stringify({ generated: true }));\n",
      "a.txt": "a\n",
      "b.txt": "b\n",
      "server.js": [
        'const fs = require("node:fs");',
        "const kind = (p) => { try { return fs.statSync(p).isDirectory() ? \"dir\" : \"file\"; } catch { return \"none\"; } };",
        "require(\"node:http\").createServer((req, res) => res.end(JSON.stringify({",
        '  src: kind("/src"), gen: kind("/src/gen.js"), copy: kind("/src/copy.js"), conf: fs.readdirSync("/srv/conf"),',
        '  lib: fs.readdirSync("/src/lib").sort(), glob: fs.readdirSync("/src/glob"), out: JSON.parse(fs.readFileSync("/src/out.json", "utf8")),',
        "}))).listen(Number(process.env.PORT || 5000));",
      ].join("\n"),
    };
    for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, name), text + "\n");
    for (const args of [["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-qm", "first"]]) {
      assert.equal((await sh("git", args, { cwd: dir })).code, 0);
    }
    const r = await push(dir, "workdir");
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(await json("workdir"), {
      src: "dir",
      gen: "file",
      copy: "file",
      conf: ["a.txt"],
      lib: ["a.txt", "b.txt"],
      glob: ["a.txt"],
      out: { generated: true },
    });
    await fs.rm(dir, { recursive: true, force: true });
  });

  test("five pushes at once of apps with the same dependencies all deploy (their identical layer committed once)", async () => {
    // Five builds of the team at once (the default is 2), each of its own app.
    const db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
    try {
      const team = await db.team.findUniqueOrThrow({ where: { name: "main" } });
      await db.quota.update({ where: { teamId: team.id }, data: { concurrentBuilds: 5 } });
    } finally {
      await db.$disconnect();
    }
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "same-deps-repo-"));
    const files: Record<string, string> = {
      // The install step first, on the stack itself, with fixed times (as npm gives package files):
      // every app's build commits the same layer, at about the same moment.
      Dockerfile: [
        "FROM stack/node",
        "USER root",
        "RUN mkdir -p /deps/node_modules/dep && echo 'module.exports = 42;' > /deps/node_modules/dep/index.js && touch -h -d @1700000000 /deps/node_modules/dep/index.js /deps/node_modules/dep /deps/node_modules /deps /",
        "WORKDIR /app",
        "COPY server.js ./",
        "USER app",
        'CMD ["node", "server.js"]',
      ].join("\n"),
      "server.js": 'require("node:http").createServer((req, res) => res.end(JSON.stringify({ dep: require("/deps/node_modules/dep") }))).listen(Number(process.env.PORT || 5000));',
    };
    for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, name), text + "\n");
    for (const args of [["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-qm", "first"]]) {
      assert.equal((await sh("git", args, { cwd: dir })).code, 0);
    }
    const apps = Array.from({ length: 5 }, (_, i) => `same-${i}`);
    for (const app of apps) assert.equal((await paas(["apps:create", app])).code, 0);
    const pushes = await Promise.all(apps.map((app) => push(dir, app)));
    for (const [i, r] of pushes.entries()) assert.equal(r.code, 0, `${apps[i]}: ${r.out}`);
    for (const app of apps) assert.deepEqual(await json(app), { dep: 42 });
    // The install layer is one in the store, shared by the five images.
    const images = (await agent.images()).filter((img) => img.names.some((n) => apps.some((a) => n.startsWith(`app/${a}:`))));
    assert.equal(images.length, 5);
    const shared = images[0].layers.filter((l) => images.every((img) => img.layers.includes(l)));
    assert.ok(shared.length > (await agent.image("stack/node")).layers.length, "the install layer is shared, beside the stack's");
    await fs.rm(dir, { recursive: true, force: true });
  });

  test("the layer cache: a new build reuses it, and what no kept image was built from goes", async () => {
    const before = await cacheState("feat");
    const keysV1 = new Set(before.appImages[0].config.labels![CACHE_KEYS_LABEL].split(" "));
    assert.deepEqual(before.names, [...keysV1].map((k) => `cache/feat/df:${k}`).sort(), "after the first build: exactly its cache");

    await commitChange(repo, "data/x.txt", "data file v2\n", "v2");
    const r = await push(repo, "feat");
    assert.equal(r.code, 0, r.out);
    // The tools stage and the final stage up to COPY data hit the cache.
    assert.ok((r.out.match(/---> Using cache/g) ?? []).length >= 5, r.out);

    // Retention runs once the old replicas are retired, just after the push returns.
    let after = await cacheState("feat");
    for (let i = 0; i < 100 && (after.appImages.length !== 1 || after.names.length !== new Set(after.appImages[0].config.labels![CACHE_KEYS_LABEL].split(" ")).size); i++) {
      await new Promise((res) => setTimeout(res, 200));
      after = await cacheState("feat");
    }
    assert.equal(after.appImages.length, 1, "PAAS_KEEP_IMAGES=1");
    const keysV2 = after.appImages[0].config.labels![CACHE_KEYS_LABEL].split(" ");
    assert.deepEqual(after.names, keysV2.map((k) => `cache/feat/df:${k}`).sort(), "only the kept build's cache is left");
    const gone = [...keysV1].filter((k) => !keysV2.includes(k));
    const shared = [...keysV1].filter((k) => keysV2.includes(k));
    assert.ok(gone.length >= 3 && shared.length >= 5, `v1-only steps went (${gone.length}), shared ones stayed (${shared.length})`);
    console.log(`cache images: ${before.names.length} after v1, ${after.names.length} after v2 (${gone.length} of v1's dropped)`);
  });
});
