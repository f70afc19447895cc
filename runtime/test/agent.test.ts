/**
 * The agent's HTTP API driven through the worker's own client (AgentClient): the build
 * sequence of agent-api.ts (create, putArchive, start, logs follow, wait, commit, remove).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import { after, before, test } from "node:test";
import { AgentClient, AgentError } from "@paas/shared/agent-api";
import { cgroups, makeTar, testAgent } from "./helpers.ts";

let client: AgentClient;
let close: () => Promise<void>;
let cgroupRoot: string;

before(async () => {
  let rt;
  ({ client, close, rt } = await testAgent("b", 2, { keepaliveMs: 100 }));
  cgroupRoot = rt.opts.cgroupRoot;
});
after(async () => close());

test("health and images", async () => {
  const h = await client.health();
  assert.equal(h.ok, true);
  assert.equal(h.cgroupDriver, "v1");
  const names = (await client.images()).flatMap((i) => i.names).sort();
  // the stacks the test data dir was made with, and Docker's official names on the same layers
  for (const n of ["stack/busybox:latest", "stack/node:latest", "stack/python:latest", "node:20-slim", "python:3.11-slim", "debian:bookworm-slim"]) assert.ok(names.includes(n), `${n} in ${names.join(" ")}`);
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
  const c = await client.createContainer({ image: "stack/busybox", cmd: ["sh", "-c", "trap 'exit 3' TERM; echo trapped; while true; do sleep 0.1; done"], memoryBytes: 32 << 20, cgroupParent: "t/a", network: "none" });
  await client.start(c.id);
  for await (const l of client.logs(c.id, { follow: true })) if (l.line === "trapped") break; // its TERM handler is set
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

/** Runs `cmd` in a container of `image` (files put first), commits it as `name` when given; returns its output. */
async function step(image: string, cmd: string | undefined, opts: { files?: Record<string, string>; owner?: { uid: number; gid: number }; commit?: string } = {}) {
  const c = await client.createContainer({ image, cmd: cmd ? ["sh", "-c", cmd] : undefined, memoryBytes: 64 << 20, cgroupParent: "t/img", network: "none" });
  try {
    if (opts.files) await client.putArchive(c.id, "/", new Blob([makeTar(opts.files)]), { owner: opts.owner });
    const out: string[] = [];
    if (cmd) {
      await client.start(c.id);
      assert.equal((await client.wait(c.id)).exitCode, 0);
      for await (const l of client.logs(c.id)) out.push(l.line);
    }
    const img = opts.commit ? await client.commit(c.id, opts.commit) : undefined;
    return { out, img };
  } finally {
    await client.remove(c.id, true);
  }
}

/** Entries of a tar stream (node-tar's listing), path -> type and link target. */
async function entries(body: ReadableStream<Uint8Array>): Promise<Map<string, { type: string; linkpath?: string; text?: string }>> {
  const out = new Map<string, { type: string; linkpath?: string; text?: string }>();
  const parser = new tar.Parser({
    onReadEntry: (e) => {
      const chunks: Buffer[] = [];
      e.on("data", (c: Buffer) => chunks.push(c));
      e.on("end", () => out.set(e.path.replace(/\/$/, ""), { type: e.type, ...(e.linkpath ? { linkpath: e.linkpath } : {}), ...(e.type === "File" ? { text: Buffer.concat(chunks).toString() } : {}) }));
    },
  });
  await pipeline(Readable.fromWeb(body as never), parser as unknown as NodeJS.WritableStream);
  return out;
}

test("image archive: the merged files at a path, whiteouts and opaque dirs honoured, symlinks kept inside the image", async () => {
  // A host directory the image's absolute symlink names: it must never be read.
  const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-host-secret-"));
  fs.writeFileSync(path.join(hostDir, "secret"), "host file\n");
  try {
    await step("stack/busybox", undefined, { files: { "app/a.txt": "a\n", "app/dir/b.txt": "b\n", "app/gone.txt": "x\n", "app/old/o.txt": "o\n" }, commit: "t/arch:one" });
    await step("t/arch:one", `rm /app/gone.txt && rm -rf /app/old && mkdir /app/old && echo new > /app/old/n.txt && ln -s dir /app/link && ln -s ${hostDir} /app/esc && ln -s ../../../../../../.. /app/up`, { commit: "t/arch:two" });

    const app = await entries(await client.imageArchive("t/arch:two", "/app"));
    assert.deepEqual([...app.keys()].sort(), ["app", "app/a.txt", "app/dir", "app/dir/b.txt", "app/esc", "app/link", "app/old", "app/old/n.txt", "app/up"]);
    assert.equal(app.get("app/a.txt")?.text, "a\n");
    assert.deepEqual(app.get("app/link"), { type: "SymbolicLink", linkpath: "dir" });
    // The older layer still has them; the image does not.
    assert.ok((await entries(await client.imageArchive("t/arch:one", "/app"))).has("app/gone.txt"));

    await assert.rejects(client.imageArchive("t/arch:two", "/app/gone.txt"), (e: AgentError) => e.status === 404 && /no \/app\/gone\.txt in image t\/arch:two/.test(e.message));
    await assert.rejects(client.imageArchive("t/arch:two", "/app/old/o.txt"), (e: AgentError) => e.status === 404);
    await assert.rejects(client.imageArchive("t/arch:two", "/app/esc/secret"), (e: AgentError) => e.status === 404, "an absolute symlink resolves inside the image");
    await assert.rejects(client.imageArchive("t/arch:two", `/app/up${hostDir}/secret`), (e: AgentError) => e.status === 404, "so does one climbing with ..");
    assert.ok((await entries(await client.imageArchive("t/arch:two", "/app/up/app/a.txt"))).has("a.txt"), ".. stops at the image's root");
    await assert.rejects(client.imageArchive("nope/nope", "/app"), (e: AgentError) => e.status === 404 && /no image/.test(e.message));
    await assert.rejects(client.imageArchive("t/arch:two", "app"), (e: AgentError) => e.status === 400 && /absolute/.test(e.message));

    // HEAD: whether a path is there and what it is, without its files.
    assert.deepEqual(
      await Promise.all(["/app", "/app/a.txt", "/app/link", "/app/gone.txt"].map((p) => client.imagePathKind("t/arch:two", p))),
      ["directory", "file", "symlink", undefined],
    );
    await assert.rejects(client.imagePathKind("nope/nope", "/app"), (e: AgentError) => e.status === 404 && /no image/.test(e.message));

    // Through a symlinked dir; and follow: the link's target under the link's name.
    assert.deepEqual([...(await entries(await client.imageArchive("t/arch:two", "/app/link/b.txt"))).keys()], ["b.txt"]);
    const followed = await entries(await client.imageArchive("t/arch:two", "/app/link", { follow: true }));
    assert.deepEqual([...followed.keys()].sort(), ["link", "link/b.txt"]);
    assert.equal(followed.get("link")?.type, "Directory");
    assert.equal(followed.get("link/b.txt")?.text, "b\n");
  } finally {
    fs.rmSync(hostDir, { recursive: true, force: true });
  }
});

test("tag, history, save and load round trip, prune", async () => {
  await step("stack/busybox", "echo made > /made.txt", { commit: "t/rt:v1" });
  const tagged = await client.tagImage("t/rt:v1", "t/rt:also");
  assert.deepEqual(tagged.names.sort(), ["t/rt:also", "t/rt:v1"]);
  await assert.rejects(client.tagImage("t/rt:v1", "Bad Name"), (e: AgentError) => e.status === 400 && /bad image name/.test(e.message));

  const hist = await client.imageHistory("t/rt:v1");
  assert.match(hist[0].created_by ?? "", /echo made > \/made\.txt/, "newest step first");
  assert.ok(hist[0].layer && hist[0].sizeBytes > 0);
  assert.equal(hist.length, (await client.imageHistory("stack/busybox")).length + 1);

  const id = (await client.image("t/rt:v1")).id;
  const saved = Buffer.from(await new Response(await client.saveImages(["t/rt:v1"])).arrayBuffer());
  await assert.rejects(client.saveImages(["nope/nope"]), (e: AgentError) => e.status === 404);
  await client.removeImage("t/rt:v1");
  await client.removeImage("t/rt:also");
  await assert.rejects(client.image(id), (e: AgentError) => e.status === 404);
  const loaded = await client.loadImages(new Blob([saved]));
  assert.deepEqual(loaded.map((i) => [i.id, i.names]), [[id, ["t/rt:v1"]]], "same id and name back");
  const renamed = await client.loadImages(new Blob([saved]), { name: "t/rt:renamed" });
  assert.deepEqual(renamed[0].names.sort(), ["t/rt:renamed", "t/rt:v1"]);
  await assert.rejects(client.loadImages(new Blob([Buffer.from("not a tar at all")])), (e: AgentError) => e.status === 400);

  // An image whose names went while a container used it: prune takes it (and its own layer) once the container is gone.
  const c = await client.createContainer({ image: "t/rt:v1", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "t/img", network: "none" });
  await client.removeImage("t/rt:renamed");
  const { removed } = await client.removeImage("t/rt:v1", true);
  assert.deepEqual(removed, ["t/rt:v1"], "only the name goes while in use");
  assert.deepEqual((await client.pruneImages()).images, [], "still in use");
  await client.remove(c.id);
  const pruned = await client.pruneImages();
  assert.deepEqual(pruned.images, [id]);
  assert.equal(pruned.layers.length, 1);
  assert.ok(pruned.bytes > 0);
});

test("putArchive with an owner: files belong to it; a name is refused", async () => {
  const { out } = await step("stack/busybox", "stat -c '%u:%g %n' /own/f /own/d/g", { files: { "own/f": "1\n", "own/d/g": "2\n" }, owner: { uid: 1234, gid: 5678 } });
  assert.deepEqual(out, ["1234:5678 /own/f", "1234:5678 /own/d/g"]);
  const c = await client.createContainer({ image: "stack/busybox", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "t/img", network: "none" });
  const res = await fetch(`${client.baseUrl}/v1/containers/${c.id}/archive?path=/x&uid=app`, { method: "PUT", body: makeTar({ f: "1" }) });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error, /query\.uid: must be a numeric id/);
  await client.remove(c.id);
});

test("an app's cgroup node: refused while a container is under it, removed with what is below it after", async () => {
  const c = await client.createContainer({ image: "stack/busybox", cmd: ["sleep", "100"], memoryBytes: 32 << 20, cgroupParent: "tg/gone/web", network: "none" });
  await client.start(c.id);
  await assert.rejects(client.removeAppCgroup("tg", "gone"), (e: AgentError) => e.status === 409 && e.message.includes(c.name) && /tg\/gone .*remove them first/.test(e.message));
  await client.remove(c.id, true);
  // A node the container's removal could not prune (an agent that died mid-removal): made here.
  const app = `${cgroupRoot}/tg/gone`;
  cgroups.setLimits(`${app}/web/left`, {});
  assert.deepEqual(await client.removeAppCgroup("tg", "gone"), { removed: true });
  assert.ok(!cgroups.exists(app), "the app's node and what was below it are gone");
  assert.ok(cgroups.exists(`${cgroupRoot}/tg`), "the team's node stays (its caps live there)");
  assert.deepEqual(await client.removeAppCgroup("tg", "gone"), { removed: false });
  await assert.rejects(client.removeAppCgroup("tg", "a b"), (e: AgentError) => e.status === 400);
});
