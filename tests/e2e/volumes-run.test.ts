/**
 * Volumes, `paas run` and `paas run:debug` end to end, on a real push: a volume's content
 * survives a deploy and a rollback; removing it is refused while replicas mount it (unless
 * --force); the storage quota refuses a volume too big; `paas run` streams a one-off command's
 * output and returns its exit code, with the release's env and volumes, and leaves no container;
 * `run:debug` runs ss and curl in the replica's network namespace (the app has neither).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { AgentClient, type ContainerInfo } from "@paas/shared";
import { ROOT, commitChange, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

let p: Platform;
let agent: AgentClient;
let repo: string;
const APP = "voly";

const paas = async (args: string[]) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });
  if (r.code !== 0) console.log(`paas ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
};

const push = async () => {
  const r = await pushApp(p, APP, repo);
  assert.equal(r.code, 0, r.stderr + r.stdout);
};

/** The one web replica (once the earlier release's, draining after a deploy, has gone). */
async function web1(): Promise<ContainerInfo> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const list = (await agent.containers()).filter((c) => c.labels["paas.app"] === APP && c.labels["paas.process"] === "web" && c.state === "running");
    if (list.length === 1) return list[0]!;
    if (Date.now() > deadline) assert.fail(`one web replica runs: ${list.map((c) => c.name).join(", ")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function execIn(id: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const proc = await agent.exec(id, { cmd });
  let out = "";
  proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr.on("data", (c: Buffer) => (out += c.toString()));
  proc.stdin.end();
  return { code: await proc.exit, out };
}

const oneOffs = async () => (await agent.containers()).filter((c) => c.labels["paas.app"] === APP && c.labels["paas.run"]);

describe("volumes, run and run:debug", { timeout: 20 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("volrun", 5300);
    agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    repo = await fixtureRepo("node-hello");
    await push();
  });
  after(async () => {
    await p?.stop();
  });

  test("volumes:add: the replicas are replaced by ones that mount it, without a failed request; the app writes to it", async () => {
    const before = await web1();
    const r = await paas(["volumes:add", "data", "/data", "--size", "64M", "-a", APP]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Added volume data \(64M\) at \/data to voly: 1 replica mount it|Added volume data \(64M\) at \/data to voly/);
    const now = await web1();
    assert.notEqual(now.id, before.id, "replaced");
    assert.ok(now.volumes?.some((v) => v.name === "voly_data" && v.path === "/data"));
    const vol = await agent.volume("voly_data");
    assert.equal(vol.sizeBytes, 64 * 2 ** 20);
    // As the app's own user (the container's), not root.
    const w = await execIn(now.id, ["sh", "-c", "id -u; echo kept-v1 > /data/f && cat /data/f"]);
    assert.equal(w.code, 0, w.out);
    assert.equal(w.out, "1000\nkept-v1\n");
    const list = await paas(["volumes", "-a", APP]);
    assert.match(list.stdout, /data\s+\/data\s+64M/);
  });

  test("the volume's content survives a deploy and a rollback", async () => {
    await commitChange(repo, "server.js", (await import("node:fs")).readFileSync(path.join(repo, "server.js"), "utf8").replace("hello from v1", "hello from v2"), "v2");
    await push();
    assert.match((await viaRouter(p, APP)).body, /hello from v2/);
    let c = await web1();
    assert.equal(c.labels["paas.release"], "v2");
    assert.equal((await execIn(c.id, ["cat", "/data/f"])).out, "kept-v1\n");
    await execIn(c.id, ["sh", "-c", "echo kept-v3 >> /data/f"]);
    const rb = await paas(["rollback", "v1", "-a", APP]);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match((await viaRouter(p, APP)).body, /hello from v1/);
    c = await web1();
    assert.equal((await execIn(c.id, ["cat", "/data/f"])).out, "kept-v1\nkept-v3\n");
  });

  test("volumes:remove is refused while a replica mounts it; a volume over the storage quota is refused; nothing changes", async () => {
    const r = await paas(["volumes:remove", "data", "-a", APP]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /volume data is mounted by web\.1 of voly: pass --force to replace them without it \(its data is deleted\), or scale them to 0 first/);
    const big = await paas(["volumes:add", "big", "/big", "--size", "20G", "-a", APP]);
    assert.equal(big.code, 1);
    assert.match(big.stderr, /team "main" would exceed its storage quota of 10240 MB \(its volumes take 64 MB, this one would take 20480 MB\)/);
    const list = await paas(["volumes", "-a", APP, "--json"]);
    assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((v) => v.name), ["data"]);
    assert.equal((await execIn((await web1()).id, ["cat", "/data/f"])).code, 0);
  });

  test("paas run: a one-off container of the release streams its output, returns its exit code and goes", async () => {
    const r = await paas(["run", "-a", APP, "--", "sh", "-c", 'echo "out $PAAS_RELEASE $(cat /data/f | head -1)"; echo err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "out v3 kept-v1\n");
    assert.equal(r.stderr, "err\n");
    const ok = await paas(["run", "-a", APP, "echo one string; true"]);
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, "one string\n");
    assert.deepEqual(await oneOffs(), [], "no one-off container is left");
    // Each run is in the team's audit log, with the command as typed.
    const audit = await paas(["audit", "-t", "main", "-n", "20", "--json"]);
    assert.equal(audit.code, 0, audit.stderr);
    const runs = (JSON.parse(audit.stdout) as { action: string; app: string; outcome: string; details: unknown }[]).filter((e) => e.action === "run" && e.app === APP);
    assert.equal(runs.length, 2, audit.stdout);
    assert.ok(runs.every((e) => e.outcome === "ok"));
    assert.match(JSON.stringify(runs.map((e) => e.details)), /echo one string; true/);
    const none = await paas(["run", "-a", "nosuchapp", "--", "true"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /app "nosuchapp" not found/);
  });

  test("run:debug: ss and curl in the replica's network namespace, its volumes too; nothing installed in the app; gone after", async () => {
    const app = await web1();
    const before = (await agent.container(app.id)).pid;
    assert.equal((await execIn(app.id, ["sh", "-c", "command -v curl; command -v ss; command -v tcpdump; true"])).out, "", "the app has no network tools");
    const r = await paas(["run:debug", "-a", APP, "--", "sh", "-c", "ss -ltn; curl -s http://localhost:5000/; echo; dig -v 2>&1 | head -1; cat /data/f | head -1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /LISTEN\s+\d+\s+\d+\s+\*:5000|LISTEN.*:5000/);
    assert.match(r.stdout, /"message":"hello from v1"/);
    assert.match(r.stdout, /DiG 9\./);
    assert.match(r.stdout, /kept-v1/);
    assert.equal((await agent.container(app.id)).pid, before, "the app kept running");
    assert.deepEqual(await oneOffs(), []);
    const bad = await paas(["run:debug", "-a", APP, "--replica", "web.7", "--", "true"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /voly has no replica web\.7 running: see `paas ps -a voly`/);
  });

  test("run:debug through a terminal: an interactive shell whose exit ends it", async () => {
    // script(1) gives the CLI a pty; the shell's prompt shows, a command runs, exit ends it.
    const cli = path.join(ROOT, "apps/cli/bin/paas");
    const r = await sh("sh", ["-c", `(sleep 3; printf 'ss -ltn | grep -c 5000\\n'; sleep 2; printf 'exit 7\\n'; sleep 1) | script -qec "${cli} run:debug -a ${APP}" /dev/null`], {
      env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken },
    });
    assert.equal(r.code, 7, r.stdout + r.stderr);
    assert.match(r.stdout, /root@voly-debug-web-1:\/# ss -ltn/);
    assert.match(r.stdout, /\r1\r+\n/);
    assert.deepEqual(await oneOffs(), []);
  });

  test("volumes:remove --force: replicas replaced without it, then it goes with its data", async () => {
    const r = await paas(["volumes:remove", "data", "--force", "-a", APP]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Removed volume data from voly \(its replicas replaced without it\)/);
    const c = await web1();
    assert.ok(!c.volumes?.some((v) => v.path === "/data"));
    assert.equal((await agent.volumes()).filter((v) => v.name === "voly_data").length, 0);
    assert.match((await paas(["volumes", "-a", APP])).stdout, /voly has no volumes/);
    assert.equal((await viaRouter(p, APP)).status, 200);
  });
});
