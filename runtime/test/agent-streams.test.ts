/**
 * The agent's streams, through the worker's own client (AgentClient): exec (an upgraded
 * connection: stdin, stdout and stderr apart, a terminal and its size, the exit code), cp
 * both ways with a running container, export, import, stats and top. What the operator CLI
 * uses for its caller-side commands (cli-remote.ts).
 */
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import * as tar from "tar";
import { type AgentClient, AgentError, type ExecProcess } from "@paas/shared/agent-api";
import { makeTar, testAgent } from "./helpers.ts";

let client: AgentClient;
let url: string;
let close: () => Promise<void>;
let id: string;

before(async () => {
  ({ client, url, close } = await testAgent("st", 75));
  const c = await client.createContainer({ image: "stack/busybox", name: "box", cmd: ["sleep", "600"], memoryBytes: 32 << 20, cgroupParent: "t/app", network: "none" });
  id = (await client.start(c.id)).id;
});
after(async () => close());

/** Everything the command wrote, and its exit code. */
async function collect(p: ExecProcess) {
  let out = "";
  let err = "";
  p.stdout.on("data", (c) => (out += c));
  p.stderr.on("data", (c) => (err += c));
  const code = await p.exit;
  return { out, err, code };
}

test("exec: the caller's stdin in, stdout and stderr apart, the exit code back; env, workdir and user", async () => {
  const p = await client.exec("box", { cmd: ["sh", "-c", 'read line; echo "got $line, X=$X, as $(id -u) in $PWD"; echo oops >&2; exit 3'], env: { X: "1" }, workdir: "/tmp" });
  p.stdin.end("hello\n");
  assert.deepEqual(await collect(p), { out: "got hello, X=1, as 0 in /tmp\n", err: "oops\n", code: 3 });
  const other = await client.exec("box", { cmd: ["id", "-u"], user: { uid: 1234, gid: 1234 } });
  other.stdin.end();
  assert.deepEqual(await collect(other), { out: "1234\n", err: "", code: 0 });
});

test("exec with a TTY: a terminal of the container's own, its size set at start and on resize", async () => {
  const p = await client.exec("box", { cmd: ["sh"], tty: true, size: { rows: 30, cols: 99 } });
  let out = "";
  p.stdout.on("data", (c) => (out += c));
  const seen = async (re: RegExp) => {
    for (const end = Date.now() + 10_000; !re.test(out); await new Promise((r) => setTimeout(r, 20))) if (Date.now() > end) throw new Error(`no ${re} in ${JSON.stringify(out)}`);
  };
  p.stdin.write("tty; stty size\n");
  await seen(/\/dev\/pts\/\d+\r?\n30 99/);
  p.resize(40, 120);
  p.stdin.write("stty size; exit 4\n");
  await seen(/40 120/);
  assert.equal(await p.exit, 4);
  assert.ok(!out.includes("/dev/pts/ptmx"), "a pts of the container's devpts");
});

test("exec with removeContainer: the container goes when the command ends, and when its caller hangs up mid-command (a one-off whose API died)", async () => {
  const gone = async (name: string) => {
    for (const end = Date.now() + 15_000; ; await new Promise((r) => setTimeout(r, 50))) {
      if (!(await client.containers()).some((c) => c.name === name)) return;
      if (Date.now() > end) throw new Error(`${name} is still there`);
    }
  };
  for (const [name, hangUp] of [["oneoff-ends", false], ["oneoff-dropped", true]] as const) {
    const c = await client.createContainer({ image: "stack/busybox", name, cmd: ["sleep", "600"], memoryBytes: 32 << 20, cgroupParent: "t/app", network: "none" });
    await client.start(c.id);
    const p = await client.exec(name, { cmd: ["sh", "-c", hangUp ? "echo started; sleep 600" : "echo done"], removeContainer: true });
    p.stdin.end();
    if (hangUp) {
      await new Promise((r) => p.stdout.once("data", r));
      p.abort();
    } else assert.equal((await collect(p)).out, "done\n");
    await gone(name);
  }
  // Without it the container stays, as every other exec leaves it.
  const kept = await client.exec("box", { cmd: ["true"] });
  kept.stdin.end();
  assert.equal(await kept.exit, 0);
  assert.ok((await client.containers()).some((c) => c.name === "box"));
});

test("exec refusals come before the stream, as statuses: not running, no container, a bad request, no upgrade", async () => {
  const idle = await client.createContainer({ image: "stack/busybox", cmd: ["true"], memoryBytes: 32 << 20, cgroupParent: "t/app", network: "none" });
  await assert.rejects(client.exec(idle.id, { cmd: ["true"] }), (e: AgentError) => e.status === 409 && /not running/.test(e.message));
  await assert.rejects(client.exec("nosuch", { cmd: ["true"] }), (e: AgentError) => e.status === 404);
  await assert.rejects(client.exec("box", { cmd: [] }), (e: AgentError) => e.status === 400 && /exec\.cmd: must name a command/.test(e.message));
  await assert.rejects(client.exec("box", { cmd: ["true"], size: { rows: 0, cols: 80 } }), (e: AgentError) => e.status === 400 && /exec\.size\.rows/.test(e.message));
  const plain = await fetch(`${url}/v1/containers/box/exec`, { method: "POST", body: JSON.stringify({ cmd: ["true"] }) });
  assert.equal(plain.status, 426);
  assert.match(((await plain.json()) as { error: string }).error, /Upgrade: paas-exec\/1/);
  await client.remove(idle.id);
});

test("cp both ways with a running container, export, stats and top", async () => {
  await client.putArchive("box", "/tmp/in", makeTar({ "note.txt": "into a running one\n" }));
  const files: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    const parse = new tar.Parser({
      onReadEntry: (e) => {
        let text = "";
        e.on("data", (c: Buffer) => (text += c));
        e.on("end", () => (files[e.path] = text));
      },
    });
    parse.on("end", resolve).on("error", reject);
    client.containerArchive("box", "/tmp/in").then((body) => Readable.fromWeb(body as import("node:stream/web").ReadableStream).pipe(parse), reject);
  });
  assert.equal(files["in/note.txt"], "into a running one\n");
  await assert.rejects(client.containerArchive("box", "/no/such/path"), (e: AgentError) => e.status === 404);

  const names: string[] = [];
  const body = await client.exportContainer("box");
  await new Promise<void>((resolve, reject) => Readable.fromWeb(body as import("node:stream/web").ReadableStream).pipe(new tar.Parser({ onReadEntry: (e) => (names.push(e.path), e.resume()) })).on("end", resolve).on("error", reject));
  for (const n of ["./bin/busybox", "./tmp/in/note.txt"]) assert.ok(names.includes(n), `${n} in the export`);

  const st = await client.stats("box");
  assert.equal(st.memoryLimitBytes, 32 << 20);
  assert.equal(st.pids, 1);
  const top = await client.top("box");
  assert.deepEqual(top.titles, ["USER", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
  assert.deepEqual(top.processes.map((p) => p[7]), ["sleep 600"]);
});

test("import: a root filesystem tar as a one-layer image with config overrides; a bad config changes nothing", async () => {
  const before = (await client.images()).length;
  await assert.rejects(client.importImage(makeTar({ "hello.txt": "x" }), "test/imp:v1", { workdir: "relative" }), (e: AgentError) => e.status === 400 && /query\.config\.workdir/.test(e.message));
  assert.equal((await client.images()).length, before);
  const img = await client.importImage(makeTar({ "hello.txt": "imported\n" }), "test/imp:v1", { cmd: ["cat", "/hello.txt"] });
  assert.deepEqual(img.names, ["test/imp:v1"]);
  assert.deepEqual(img.config.cmd, ["cat", "/hello.txt"]);
  assert.equal(img.layers.length, 1);
});
