/**
 * The agent's edge: every body and query is parsed with the API contract's zod schemas
 * (packages/shared/src/agent-api.ts). Each bad request of the table gets a 400 naming the
 * wrong field, and leaves containers, volumes, images and team limits as they were.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { AgentClient } from "@paas/shared/agent-api";
import { makeTar, testAgent } from "./helpers.ts";

let client: AgentClient;
let close: () => Promise<void>;
/** A created (never started) container the per-container routes act on. */
let c0: string;

before(async () => {
  ({ client, close } = await testAgent("v", 72));
  c0 = (await client.createContainer({ name: "c0", image: "stack/busybox", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "tv/app", network: "none" })).id;
  await client.createVolume({ name: "kept" });
  await client.setTeamLimits("tv", { memoryBytes: 256 << 20 });
});
after(async () => close());

/** Everything a request could have changed. */
async function snapshot() {
  return {
    containers: await client.containers(),
    volumes: await client.volumes(),
    images: (await client.images()).map((i) => [i.id, i.names]),
    team: await client.teamLimits("tv"),
  };
}

const MiB = 1 << 20;
const good = { image: "stack/busybox", cmd: ["true"], memoryBytes: 32 * MiB, cgroupParent: "tv/app", network: "none" };

interface BadRequest {
  what: string;
  method: string;
  path: () => string;
  /** JSON-encoded unless a string (sent as it is) or absent. */
  body?: unknown;
  /** The field the 400 must name (and what it says of it). */
  says: RegExp;
}

const table: BadRequest[] = [
  // POST /v1/containers: ContainerSpec
  { what: "no body", method: "POST", path: () => "/v1/containers", says: /^spec: expected object, got nothing$/ },
  { what: "not JSON", method: "POST", path: () => "/v1/containers", body: "{ image:", says: /not valid JSON/ },
  { what: "a list", method: "POST", path: () => "/v1/containers", body: [good], says: /^spec: .*expected object/ },
  { what: "no memory limit", method: "POST", path: () => "/v1/containers", body: { ...good, memoryBytes: undefined }, says: /spec\.memoryBytes: expected number, got nothing/ },
  { what: "memory as a string", method: "POST", path: () => "/v1/containers", body: { ...good, memoryBytes: "64m" }, says: /spec\.memoryBytes: .*got "64m"/ },
  { what: "memory below 4 MiB", method: "POST", path: () => "/v1/containers", body: { ...good, memoryBytes: 1024 }, says: /spec\.memoryBytes: must be a whole number, at least 4194304, got 1024/ },
  { what: "memory not whole", method: "POST", path: () => "/v1/containers", body: { ...good, memoryBytes: 33554432.5 }, says: /spec\.memoryBytes: expected int, got 33554432\.5/ },
  { what: "a misspelt field", method: "POST", path: () => "/v1/containers", body: { ...good, memory: 64 * MiB }, says: /spec: Unrecognized key: "memory"/ },
  { what: "no image", method: "POST", path: () => "/v1/containers", body: { ...good, image: undefined }, says: /spec\.image: .*expected string/ },
  { what: "cmd as a string", method: "POST", path: () => "/v1/containers", body: { ...good, cmd: "echo hi" }, says: /spec\.cmd: .*expected array/ },
  { what: "a number in cmd", method: "POST", path: () => "/v1/containers", body: { ...good, cmd: ["sleep", 5] }, says: /spec\.cmd\[1\]: .*expected string/ },
  { what: "an env value not a string", method: "POST", path: () => "/v1/containers", body: { ...good, env: { PORT: 5000 } }, says: /spec\.env\.PORT: .*expected string/ },
  { what: "a relative workdir", method: "POST", path: () => "/v1/containers", body: { ...good, workdir: "app" }, says: /spec\.workdir: must be an absolute path/ },
  { what: "network host", method: "POST", path: () => "/v1/containers", body: { ...good, network: "host" }, says: /spec\.network: must be "bridge", "none" or "container:<id or name>", got "host"/ },
  { what: "network container: without one", method: "POST", path: () => "/v1/containers", body: { ...good, network: "container:" }, says: /spec\.network: must be/ },
  { what: "cgroupParent climbing out", method: "POST", path: () => "/v1/containers", body: { ...good, cgroupParent: "../x" }, says: /spec\.cgroupParent: must not contain/ },
  { what: "cgroupParent absolute", method: "POST", path: () => "/v1/containers", body: { ...good, cgroupParent: "/tv/app" }, says: /spec\.cgroupParent: must be a relative path/ },
  { what: "cpuShares out of range", method: "POST", path: () => "/v1/containers", body: { ...good, cpuShares: 1 }, says: /spec\.cpuShares: must be a whole number/ },
  { what: "diskBytes below 8 MiB", method: "POST", path: () => "/v1/containers", body: { ...good, diskBytes: 4 * MiB }, says: /spec\.diskBytes: must be a whole number/ },
  { what: "restart sometimes", method: "POST", path: () => "/v1/containers", body: { ...good, restart: "sometimes" }, says: /spec\.restart: .*"no"\|"on-failure"\|"always"/ },
  { what: "negative restartMaxRetries", method: "POST", path: () => "/v1/containers", body: { ...good, restartMaxRetries: -1 }, says: /spec\.restartMaxRetries: must be a whole number/ },
  { what: "egress as yes", method: "POST", path: () => "/v1/containers", body: { ...good, egress: "yes" }, says: /spec\.egress: .*expected boolean/ },
  { what: "labels as a list", method: "POST", path: () => "/v1/containers", body: { ...good, labels: ["a"] }, says: /spec\.labels: .*expected record/ },
  { what: "a relative volume path", method: "POST", path: () => "/v1/containers", body: { ...good, volumes: [{ name: "data", path: "data" }] }, says: /spec\.volumes\[0\]\.path: must be an absolute path/ },
  // The runtime made a spec's missing volumes before it checked cgroupParent: a volume was left behind.
  { what: "a new volume with a bad cgroupParent", method: "POST", path: () => "/v1/containers", body: { ...good, cgroupParent: "../x", volumes: [{ name: "leak", path: "/data" }] }, says: /spec\.cgroupParent/ },
  // POST /v1/volumes: VolumeSpec
  { what: "volume without a name", method: "POST", path: () => "/v1/volumes", body: {}, says: /volume\.name: .*expected string/ },
  { what: "volume named by a number", method: "POST", path: () => "/v1/volumes", body: { name: 5 }, says: /volume\.name: .*got 5/ },
  { what: "negative volume size", method: "POST", path: () => "/v1/volumes", body: { name: "v1", sizeBytes: -1 }, says: /volume\.sizeBytes: must be a whole number/ },
  { what: "volume size misspelt", method: "POST", path: () => "/v1/volumes", body: { name: "v1", size: 10 }, says: /volume: Unrecognized key: "size"/ },
  // PUT /v1/cgroups/:team: TeamLimits
  { what: "team memory as a string", method: "PUT", path: () => "/v1/cgroups/tv", body: { memoryBytes: "1g" }, says: /team\.memoryBytes: .*got "1g"/ },
  { what: "team pids of 0", method: "PUT", path: () => "/v1/cgroups/tv", body: { pids: 0 }, says: /team\.pids: must be a whole number/ },
  { what: "an unknown team limit", method: "PUT", path: () => "/v1/cgroups/tv", body: { memory: 5 }, says: /team: Unrecognized key: "memory"/ },
  { what: "team limits not an object", method: "PUT", path: () => "/v1/cgroups/tv", body: 5, says: /^team: .*expected object/ },
  // POST /v1/containers/:id/commit
  { what: "commit without a name", method: "POST", path: () => `/v1/containers/${c0}/commit`, body: {}, says: /body\.name: .*expected string/ },
  { what: "commit cmd as a string", method: "POST", path: () => `/v1/containers/${c0}/commit`, body: { name: "tv/x:1", config: { cmd: "npm start" } }, says: /body\.config\.cmd: .*expected array/ },
  { what: "commit with a port out of range", method: "POST", path: () => `/v1/containers/${c0}/commit`, body: { name: "tv/x:1", config: { exposedPorts: [70000] } }, says: /body\.config\.exposedPorts\[0\]: must be a whole number/ },
  // POST /v1/images/:name/tag, /v1/images/save
  { what: "tag without a name", method: "POST", path: () => "/v1/images/stack%2Fbusybox/tag", body: {}, says: /body\.name: .*expected string/ },
  { what: "tag named by a number", method: "POST", path: () => "/v1/images/stack%2Fbusybox/tag", body: { name: 3 }, says: /body\.name: .*got 3/ },
  { what: "save of no refs", method: "POST", path: () => "/v1/images/save", body: { refs: [] }, says: /body\.refs: Too small/ },
  { what: "save refs as a string", method: "POST", path: () => "/v1/images/save", body: { refs: "stack/busybox" }, says: /body\.refs: .*expected array/ },
  { what: "save gzip as yes", method: "POST", path: () => "/v1/images/save", body: { refs: ["stack/busybox"], gzip: "yes" }, says: /body\.gzip: .*expected boolean/ },
  // Queries
  { what: "archive to a relative path", method: "PUT", path: () => `/v1/containers/${c0}/archive?path=app`, body: makeTar({ f: "1" }).toString("latin1"), says: /query\.path: must be an absolute path/ },
  { what: "archive gid without uid", method: "PUT", path: () => `/v1/containers/${c0}/archive?path=/app&gid=5`, body: makeTar({ f: "1" }).toString("latin1"), says: /query\.gid: needs uid too$/ },
  { what: "archive uid negative", method: "PUT", path: () => `/v1/containers/${c0}/archive?path=/app&uid=-1`, body: makeTar({ f: "1" }).toString("latin1"), says: /query\.uid: must be a numeric id, got "-1"/ },
  { what: "stop timeout not a number", method: "POST", path: () => `/v1/containers/${c0}/stop?timeout=soon`, says: /query\.timeout: must be a number of seconds/ },
  { what: "kill with a made-up signal", method: "POST", path: () => `/v1/containers/${c0}/kill?signal=SIGBOOM`, says: /query\.signal: must be a signal name \(TERM, SIGHUP, \.\.\.\) or number \(1-64\), got "SIGBOOM"/ },
  { what: "kill with signal 99", method: "POST", path: () => `/v1/containers/${c0}/kill?signal=99`, says: /query\.signal: must be a whole number from 1 to 64, got 99/ },
  { what: "logs tail negative", method: "GET", path: () => `/v1/containers/${c0}/logs?tail=-3`, says: /query\.tail: must be a whole number/ },
  // force=yes read as "not forced" before: the container went.
  { what: "remove with force=yes", method: "DELETE", path: () => `/v1/containers/${c0}?force=yes`, says: /query\.force: Invalid option: expected one of .*"true".*, got "yes"/ },
  { what: "image remove with force=maybe", method: "DELETE", path: () => "/v1/images/stack%2Fbusybox?force=maybe", says: /query\.force/ },
  { what: "load with a misspelt option", method: "POST", path: () => "/v1/images/load?nam=x", body: "", says: /query: Unrecognized key: "nam"/ },
];

test("each bad body or query gets a 400 naming the field, and changes nothing", async () => {
  const was = await snapshot();
  assert.equal(was.containers.length, 1);
  for (const bad of table) {
    const body = bad.body === undefined ? undefined : typeof bad.body === "string" ? bad.body : JSON.stringify(bad.body);
    const res = await fetch(client.baseUrl + bad.path(), { method: bad.method, body, headers: body === undefined ? {} : { "content-type": "application/json" } });
    const answer = (await res.json()) as { error?: string };
    assert.equal(res.status, 400, `${bad.what}: ${res.status} ${answer.error}`);
    assert.match(answer.error ?? "", bad.says, bad.what);
    assert.deepEqual(await snapshot(), was, `${bad.what} changed nothing`);
  }
});

test("the good request of each kind still passes the same edge", async () => {
  const c = await client.createContainer({ ...good, network: "none", restart: "on-failure", restartMaxRetries: 2, volumes: [{ name: "kept", path: "/data" }] });
  assert.equal(c.state, "created");
  assert.deepEqual(await client.putArchive(c.id, "/app", new Blob([makeTar({ f: "1" })]), { owner: { uid: 10, gid: 20 } }), { ok: true });
  assert.deepEqual(await client.setTeamLimits("tv", { memoryBytes: 512 * MiB, pids: 100 }), { memoryBytes: 512 * MiB, pids: 100 });
  assert.deepEqual(await client.remove(c.id, true), { ok: true });
});

test("kill sends the signal named (SIGKILL when none is)", async () => {
  const c = await client.createContainer({ ...good, cmd: ["sh", "-c", "trap 'echo got HUP' HUP; echo ready; while true; do sleep 0.1; done"] });
  await client.start(c.id);
  const seen: string[] = [];
  for await (const l of client.logs(c.id, { follow: true })) {
    seen.push(l.line);
    if (l.line === "ready") assert.equal((await client.kill(c.id, "hup")).state, "running");
    if (l.line === "got HUP") break;
  }
  assert.deepEqual(seen, ["ready", "got HUP"]);
  await client.kill(c.id);
  assert.deepEqual(await client.wait(c.id), { exitCode: 137, oomKilled: false });
  await client.remove(c.id);
});
