/**
 * Host binds (spec.binds, binds.ts): a host directory and file seen inside at the paths the
 * spec names; read-only ones stay read-only for root inside, with and without a user
 * namespace (no write, no remount); the mount points made for them are not in a commit;
 * bad binds are refused and make nothing.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { BindMount, ContainerSpec } from "@paas/shared/agent-api";
import type { Runtime } from "../src/containers.ts";
import type { Layout } from "../src/paths.ts";
import { testRuntime } from "./helpers.ts";

let rt: Runtime;
let layout: Layout;
let cleanup: () => Promise<void>;
let host: string;

before(async () => {
  ({ rt, cleanup, layout } = await testRuntime("bd", 84));
  host = fs.mkdtempSync(path.join(os.tmpdir(), "paas-binds-"));
  fs.mkdirSync(path.join(host, "index/pkg"), { recursive: true });
  fs.writeFileSync(path.join(host, "index/pkg/a.whl"), "wheel\n");
  fs.writeFileSync(path.join(host, "constraints.txt"), "flask==3.0\n");
});
after(async () => {
  await cleanup?.();
  fs.rmSync(host, { recursive: true, force: true });
});

const binds = (): BindMount[] => [
  { source: path.join(host, "index"), target: "/opt/pypi/simple", readOnly: true },
  { source: path.join(host, "constraints.txt"), target: "/etc/xdg/pip/constraints.txt", readOnly: true },
];
const spec = (cmd: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  image: "stack/busybox",
  memoryBytes: 64 << 20,
  cgroupParent: "bindteam/app",
  network: "none",
  cmd: ["/bin/sh", "-c", cmd],
  binds: binds(),
  ...extra,
});

async function run(s: ContainerSpec): Promise<{ id: string; exitCode: number; out: string }> {
  const c = rt.create(s);
  await rt.start(c.id);
  const { exitCode } = await rt.wait(c.id);
  const lines: string[] = [];
  for await (const l of rt.logLines(c.id)) lines.push((JSON.parse(l) as { line: string }).line);
  return { id: c.id, exitCode, out: lines.join("\n") };
}

// Each attempt to write prints what happened; `|| echo refused` keeps the script going. stderr
// joins stdout first: a refused redirection is the shell's own message, on its own stderr, and
// the two streams reach the log in no set order.
const tryWrites = [
  "exec 2>&1",
  "cat /opt/pypi/simple/pkg/a.whl /etc/xdg/pip/constraints.txt",
  "touch /opt/pypi/simple/new 2>&1 || echo refused-create",
  "echo x >> /etc/xdg/pip/constraints.txt 2>&1 || echo refused-append",
  "rm /opt/pypi/simple/pkg/a.whl 2>&1 || echo refused-rm",
  "mount -o remount,rw /opt/pypi/simple 2>&1 || echo refused-remount",
  "umount /opt/pypi/simple 2>&1 || echo refused-umount",
  "cat /opt/pypi/simple/pkg/a.whl",
].join("; ");

for (const userns of [true, false]) {
  test(`read-only binds are read-only for root inside (${userns ? "user namespace" : "no user namespace"})`, async () => {
    const r = await run(spec(tryWrites, { userns }));
    assert.equal(r.exitCode, 0, r.out);
    assert.match(r.out, /^wheel\nflask==3\.0\n/, "the host's files are there");
    for (const what of ["create", "append", "rm", "remount", "umount"]) assert.match(r.out, new RegExp(`refused-${what}`), r.out);
    assert.match(r.out, /wheel$/, "the file is still there after the attempts");
    assert.deepEqual(fs.readdirSync(path.join(host, "index/pkg")), ["a.whl"]);
    assert.equal(fs.readFileSync(path.join(host, "constraints.txt"), "utf8"), "flask==3.0\n");
  });
}

test("a writable bind (readOnly: false) takes writes", async () => {
  const r = await run(spec("echo hi > /opt/pypi/simple/written", { userns: false, binds: [{ ...binds()[0], readOnly: false }] }));
  assert.equal(r.exitCode, 0, r.out);
  assert.equal(fs.readFileSync(path.join(host, "index/written"), "utf8"), "hi\n");
  fs.rmSync(path.join(host, "index/written"));
});

test("a commit keeps what the container wrote, not the mount points made for its binds", async () => {
  const r = await run(spec("echo built > /opt/out.txt"));
  assert.equal(r.exitCode, 0, r.out);
  const img = await rt.commit(r.id, "bindtest/committed:1");
  const top = layout.layer(img.layers[img.layers.length - 1]);
  assert.equal(fs.readFileSync(path.join(top, "opt/out.txt"), "utf8"), "built\n");
  assert.deepEqual(fs.readdirSync(path.join(top, "opt")), ["out.txt"], "no pypi/ under /opt");
  assert.ok(!fs.existsSync(path.join(top, "etc/xdg")), "no etc/xdg/pip/constraints.txt");
  // the image runs again with the same binds (the points are made anew)
  const again = await run({ ...spec("cat /opt/out.txt /etc/xdg/pip/constraints.txt"), image: "bindtest/committed:1" });
  assert.equal(again.out, "built\nflask==3.0");
});

test("bad binds are refused at create and make nothing", () => {
  const before = rt.list().length;
  const cases: [BindMount, RegExp][] = [
    [{ source: "relative/dir", target: "/x", readOnly: true }, /absolute/],
    [{ source: path.join(host, "missing"), target: "/x", readOnly: true }, /does not exist on this host/],
    [{ source: host, target: "/proc/x", readOnly: true }, /reserved/],
    [{ source: host, target: "/etc/resolv.conf", readOnly: true }, /reserved/],
    [{ source: "/dev/null", target: "/x", readOnly: true }, /neither a file nor a directory/],
  ];
  for (const [b, msg] of cases) assert.throws(() => rt.create(spec("true", { binds: [b] })), msg);
  assert.throws(() => rt.create(spec("true", { binds: [binds()[0], { ...binds()[0], source: host }] })), /two binds on \/opt\/pypi\/simple/);
  assert.throws(() => rt.create(spec("true", { volumes: [{ name: "v1", path: "/opt/pypi" }] })), /overlaps volume v1/);
  assert.equal(rt.list().length, before);
});

test("a bind whose target crosses a symlink in the image is refused at start", async () => {
  // busybox's /bin/sh is a symlink to busybox: a bind below it would leave the root
  const c = rt.create(spec("true", { binds: [{ source: host, target: "/bin/sh/x", readOnly: true }] }));
  await assert.rejects(rt.start(c.id), /symlink in the image|not a directory in the image/);
});
