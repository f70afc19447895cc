/**
 * One suite for every cgroup driver (containerd's habit): v1 on this host's real v1
 * hierarchies, v2 against a fake cgroup2 tree (a temp dir with the files a cgroup2 has),
 * and v2 for real where a cgroup2 mount offers the memory controller.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { type CgroupDriver, CgroupV1Driver, CgroupV2Driver, detectCgroupLayout, sharesToWeight, weightToShares } from "./cgroups.ts";

/** A fake cgroup2 root: the root files a kernel shows, controllers listed, nothing delegated yet. */
function fakeV2Tree(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "paas-fake-cg2-"));
  const files: Record<string, string> = {
    "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
    "cgroup.subtree_control": "\n",
    "cgroup.procs": "",
    "cgroup.max.depth": "max\n",
    "memory.stat": "",
    "cpu.stat": "usage_usec 0\n",
    "io.stat": "",
  };
  for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(root, f), v);
  return root;
}

/** The kernel's rmdir of a cgroup ignores its interface files but fails while it has children. */
function fakeRmdir(dir: string) {
  if (!fs.existsSync(dir)) throw Object.assign(new Error(`ENOENT ${dir}`), { code: "ENOENT" });
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  if (entries.some((e) => e.isDirectory())) throw Object.assign(new Error(`EBUSY ${dir}`), { code: "EBUSY" });
  fs.rmSync(dir, { recursive: true });
}

const fakeRoot = fakeV2Tree();
after(() => fs.rmSync(fakeRoot, { recursive: true, force: true }));

const realV2root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].find((r) => fs.existsSync(path.join(r, "cgroup.controllers")));
const realV2 = realV2root ? new CgroupV2Driver(realV2root) : undefined;
const drivers: { name: string; driver?: CgroupDriver; real: boolean; skip: string | false }[] = [
  { name: "v1", driver: fs.existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes") ? new CgroupV1Driver() : undefined, real: true, skip: false },
  { name: "v2-fake", driver: new CgroupV2Driver(fakeRoot, { rmdir: fakeRmdir }), real: false, skip: false },
  { name: "v2", driver: realV2, real: true, skip: realV2 && realV2.available().has("memory") ? false : "no cgroup2 hierarchy with a memory controller here" },
];

for (const { name, driver, real, skip } of drivers) {
  describe(`cgroup driver ${name}`, { skip: !driver ? "not mounted here" : skip }, () => {
    const top = `paas-test-cg-${name}-${process.pid}`;
    const rel = `${top}/team/app/c1`;
    const d = () => driver!;
    // the runtime's root and team nodes stay when their containers go: this test's go here, through the driver
    if (real) after(() => d().removeTree(top));

    test("dirs, procs and removeTree: what exec joins, what top lists, what a test's cleanup removes", async () => {
      const h = d().create(rel, { memoryBytes: 48 << 20 });
      assert.deepEqual(d().dirs(rel), h.dirs, "the dirs a container's process joins");
      assert.deepEqual(d().procs(rel), []);
      if (real) {
        const p = spawn("sleep", ["30"]);
        await new Promise((r) => p.once("spawn", r));
        for (const dir of h.dirs) fs.writeFileSync(path.join(dir, "cgroup.procs"), String(p.pid));
        assert.deepEqual(d().procs(rel), [p.pid]);
        const exited = new Promise((r) => p.once("exit", r));
        d().removeTree(top);
        await exited; // killed: a node is emptied before its rmdir
      } else d().removeTree(top);
      assert.equal(d().exists(rel), false);
      assert.equal(d().exists(top), false, "the whole tree, its root too");
      for (const dir of h.dirs) assert.equal(fs.existsSync(dir), false);
    });

    test("leaf limits are set and read back", () => {
      d().create(rel, { memoryBytes: 48 << 20, cpuMillis: 500, cpuShares: 512, pidsLimit: 64 });
      assert.deepEqual(d().readLimits(rel), { memoryBytes: 48 << 20, cpuMillis: 500, cpuShares: d().kind === "v2" ? weightToShares(sharesToWeight(512)) : 512, pidsLimit: 64 });
      assert.equal(d().exists(rel), true);
      d().remove(rel);
      assert.equal(d().exists(rel), false);
    });

    test("a team limit is set on the inner node, the leaf keeps its own", () => {
      d().setLimits(`${top}/team`, { memoryBytes: 64 << 20, pidsLimit: 100 });
      d().create(rel, { memoryBytes: 64 << 20 });
      const team = d().readLimits(`${top}/team`);
      assert.equal(team.memoryBytes, 64 << 20);
      assert.equal(team.pidsLimit, 100);
      assert.equal(d().readLimits(rel).memoryBytes, 64 << 20);
      // shrink and grow (v1 orders memsw around the limit)
      d().setLimits(`${top}/team`, { memoryBytes: 32 << 20 });
      assert.equal(d().readLimits(`${top}/team`).memoryBytes, 32 << 20);
      d().setLimits(`${top}/team`, { memoryBytes: 128 << 20 });
      assert.equal(d().readLimits(`${top}/team`).memoryBytes, 128 << 20);
      d().remove(rel);
      // the empty app node went with the last leaf; the team's node keeps its caps
      assert.equal(d().exists(`${top}/team/app`), false);
      assert.equal(d().readLimits(`${top}/team`).memoryBytes, 128 << 20);
    });

    test("io limits per device", () => {
      d().create(rel, { memoryBytes: 48 << 20, io: [{ device: "7:0", writeBps: 5 << 20, readBps: 6 << 20 }] });
      assert.deepEqual(d().readLimits(rel).io, [{ device: "7:0", readBps: 6 << 20, writeBps: 5 << 20 }]);
      d().remove(rel);
    });

    test("freeze and thaw", async () => {
      d().create(rel, { memoryBytes: 48 << 20 });
      assert.equal(d().frozen(rel), false);
      await d().freeze(rel);
      assert.equal(d().frozen(rel), true);
      await d().thaw(rel);
      assert.equal(d().frozen(rel), false);
      d().remove(rel);
    });

    if (!real) {
      test("v2: controllers are delegated in subtree_control on the way down", () => {
        d().create(rel, { memoryBytes: 48 << 20, cpuMillis: 250 });
        const root = (d() as CgroupV2Driver).mountRoot;
        for (const p of ["", top, `${top}/team`, `${top}/team/app`]) {
          const enabled = fs.readFileSync(path.join(root, p, "cgroup.subtree_control"), "utf8").split(/\s+/).map((c) => c.replace(/^\+/, ""));
          for (const c of ["memory", "cpu", "pids", "io"]) assert.ok(enabled.includes(c), `${c} enabled in ${p || "/"}/cgroup.subtree_control`);
        }
        assert.equal(fs.readFileSync(path.join(root, rel, "cpu.max"), "utf8"), "25000 100000");
        assert.equal(fs.readFileSync(path.join(root, rel, "memory.max"), "utf8"), String(48 << 20));
        d().remove(rel);
      });
    }

    if (real) {
      test("a process joins; remove kills it (even frozen) and removes the leaf", async () => {
        const h = d().create(rel, { memoryBytes: 48 << 20, cpuMillis: 500, pidsLimit: 64 });
        assert.match(fs.readFileSync(h.oomFile, "utf8"), /oom_kill \d+/);
        const p = spawn("sleep", ["30"]);
        await new Promise((r) => p.once("spawn", r));
        for (const dir of h.dirs) fs.writeFileSync(path.join(dir, "cgroup.procs"), String(p.pid));
        assert.ok((d().memoryUsage(rel) ?? -1) >= 0);
        assert.ok((d().cpuUsageNs(rel) ?? -1) >= 0);
        await d().freeze(rel);
        const exited = new Promise((r) => p.once("exit", r));
        d().remove(rel);
        await exited;
        for (const dir of h.dirs) assert.equal(fs.existsSync(dir), false);
        assert.equal(d().exists(`${top}/team/app`), false);
        assert.equal(d().exists(`${top}/team`), true, "the team's node stays");
      });
    }

    test("a bad path is refused", () => {
      assert.throws(() => d().create("../escape", { memoryBytes: 1 << 24 }), /bad cgroup path/);
    });
  });
}

test("v2 without a memory controller says what is wrong", { skip: realV2 && !realV2.available().has("memory") ? false : "no such hierarchy here" }, () => {
  assert.throws(() => realV2!.create("paas-test-cg-none/x", { memoryBytes: 1 << 24 }), /no memory controller/);
});

test("layout detection: this host, a fake v2 root, a fake hybrid", () => {
  assert.equal(detectCgroupLayout(fakeRoot), "v2");
  const hybrid = fs.mkdtempSync(path.join(os.tmpdir(), "paas-fake-hybrid-"));
  fs.mkdirSync(path.join(hybrid, "unified"));
  fs.writeFileSync(path.join(hybrid, "unified", "cgroup.controllers"), "hugetlb\n");
  fs.mkdirSync(path.join(hybrid, "memory"));
  assert.equal(detectCgroupLayout(hybrid), "hybrid");
  fs.rmSync(hybrid, { recursive: true });
  if (fs.existsSync("/sys/fs/cgroup/unified/cgroup.controllers") && fs.existsSync("/sys/fs/cgroup/memory")) assert.equal(detectCgroupLayout(), "hybrid");
});
