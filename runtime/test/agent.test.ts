/**
 * The agent's HTTP API driven through the worker's own client (AgentClient): the build
 * sequence of agent-api.ts (create, putArchive, start, logs follow, wait, commit, remove).
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { AgentClient, AgentError } from "@paas/shared/agent-api";
import { createAgentServer } from "../src/agent/server.ts";
import { makeTar, testRuntime } from "./helpers.ts";

let client: AgentClient;
let close: () => Promise<void>;

before(async () => {
  const { rt, cleanup } = await testRuntime("b", 2);
  const server = createAgentServer(rt, { keepaliveMs: 100 });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  client = new AgentClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  close = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await cleanup();
  };
});
after(async () => close());

test("health and images", async () => {
  const h = await client.health();
  assert.equal(h.ok, true);
  assert.equal(h.cgroupDriver, "v1");
  const names = (await client.images()).flatMap((i) => i.names).sort();
  assert.deepEqual(names, ["stack/busybox:latest", "stack/node:latest", "stack/python:latest"]);
  assert.equal((await client.image("stack/node")).config.workdir, "/app");
  await assert.rejects(client.image("nope/nope"), (e: AgentError) => e.status === 404 && /no image/.test(e.message));
});

test("a build through the API: archive, start, follow logs, wait, commit, remove", async () => {
  const c = await client.createContainer({
    image: "stack/node",
    cmd: ["sh", "-c", "echo start; cat package.json; echo oops >&2; node -e 'console.log(require(\"os\").hostname())'; echo end"],
    hostname: "builder",
    memoryBytes: 256 << 20,
    cgroupParent: "team/app",
    network: "bridge",
    egress: true,
  });
  assert.equal(c.state, "created");
  const tarBuf = makeTar({ "package.json": '{"name":"x"}\n' });
  assert.deepEqual(await client.putArchive(c.id, "/app", new Blob([tarBuf])), { ok: true });
  const running = await client.start(c.name);
  assert.ok(running.ip);
  const lines = [];
  for await (const l of client.logs(c.id, { follow: true })) lines.push(l);
  assert.deepEqual(
    lines.map((l) => `${l.stream}:${l.line}`),
    ["stdout:start", 'stdout:{"name":"x"}', "stderr:oops", "stdout:builder", "stdout:end"],
  );
  assert.ok(!Number.isNaN(Date.parse(lines[0].t)));
  assert.deepEqual(await client.wait(c.id), { exitCode: 0, oomKilled: false });
  const tail = [];
  for await (const l of client.logs(c.id, { tail: 1 })) tail.push(l.line);
  assert.deepEqual(tail, ["end"]);
  const img = await client.commit(c.id, "app/x:v1", { cmd: ["npm", "start"] });
  assert.deepEqual(img.names, ["app/x:v1"]);
  assert.deepEqual(img.config.cmd, ["npm", "start"]);
  assert.equal((await client.container(c.id)).state, "exited");
  assert.deepEqual(await client.remove(c.id), { ok: true });
  await assert.rejects(client.container(c.id), (e: AgentError) => e.status === 404);
  assert.deepEqual((await client.removeImage("app/x:v1")).removed.includes("app/x:v1"), true);
});

test("bad input is refused with a reason and changes nothing", async () => {
  const before = (await client.containers()).length;
  await assert.rejects(
    client.createContainer({ image: "stack/busybox", memoryBytes: 0, cgroupParent: "t/a", network: "none" }),
    (e: AgentError) => e.status === 400 && /memoryBytes/.test(e.message),
  );
  await assert.rejects(
    client.createContainer({ image: "stack/busybox", memoryBytes: 64 << 20, cgroupParent: "../x", network: "none" }),
    (e: AgentError) => e.status === 400 && /cgroupParent/.test(e.message),
  );
  assert.equal((await client.containers()).length, before);
});

test("stop, and force remove of a running container", async () => {
  const c = await client.createContainer({ image: "stack/busybox", cmd: ["sh", "-c", "trap 'exit 3' TERM; while true; do sleep 0.1; done"], memoryBytes: 32 << 20, cgroupParent: "t/a", network: "none" });
  await client.start(c.id);
  await new Promise((r) => setTimeout(r, 200));
  await assert.rejects(client.remove(c.id), (e: AgentError) => e.status === 409);
  const stopped = await client.stop(c.id, 5);
  assert.equal(stopped.state, "exited");
  assert.equal(stopped.exitCode, 3);
  const d = await client.createContainer({ image: "stack/busybox", cmd: ["sleep", "100"], memoryBytes: 32 << 20, cgroupParent: "t/a", network: "bridge" });
  await client.start(d.id);
  assert.equal((await client.container(d.id)).state, "running");
  assert.deepEqual(await client.remove(d.id, true), { ok: true });
  await client.remove(c.id);
});

test("wait and logs stay well-formed across keepalives of a quiet container", async () => {
  const c = await client.createContainer({ image: "stack/busybox", cmd: ["sh", "-c", "sleep 0.5; echo late; exit 4"], memoryBytes: 32 << 20, cgroupParent: "t/a", network: "none" });
  await assert.rejects(client.wait(c.id), (e: AgentError) => e.status === 409);
  await client.start(c.id);
  const [w, lines] = await Promise.all([
    client.wait(c.id),
    (async () => {
      const out = [];
      for await (const l of client.logs(c.id, { follow: true })) out.push(l.line);
      return out;
    })(),
  ]);
  assert.deepEqual(w, { exitCode: 4, oomKilled: false });
  assert.deepEqual(lines, ["late"]);
  await client.remove(c.id);
});
