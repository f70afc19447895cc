/**
 * One suite for every cgroup driver (containerd's habit). v1 runs on this host's v1
 * hierarchies; v2 runs where a cgroup2 mount offers the memory controller (on this
 * host the cgroup2 mount beside v1 offers none, and the driver must say so).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { type CgroupDriver, CgroupV1Driver, CgroupV2Driver } from "./cgroups.ts";

const v2root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].find((r) => fs.existsSync(path.join(r, "cgroup.controllers")));
const v2 = v2root ? new CgroupV2Driver(v2root) : undefined;
const drivers: [string, CgroupDriver | undefined, string | false][] = [
  ["v1", fs.existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes") ? new CgroupV1Driver() : undefined, false],
  ["v2", v2, v2 && v2.available().has("memory") ? false : "no cgroup2 hierarchy with a memory controller here"],
];

for (const [name, driver, skip] of drivers) {
  describe(`cgroup driver ${name}`, { skip: !driver ? "not mounted here" : skip }, () => {
    const rel = `paas-test-cg-${name}/team/app/c1`;
    test("limits are set, a process joins, remove kills leftovers and removes the leaf", async () => {
      const d = driver!;
      const h = d.create(rel, { memoryBytes: 48 << 20, cpuMillis: 500, pidsLimit: 64 });
      assert.ok(h.dirs.length >= 1);
      assert.match(fs.readFileSync(h.oomFile, "utf8"), /oom_kill \d+/);
      const p = spawn("sleep", ["30"]);
      await new Promise((r) => p.once("spawn", r));
      for (const dir of h.dirs) fs.writeFileSync(path.join(dir, "cgroup.procs"), String(p.pid));
      assert.ok((d.memoryUsage(rel) ?? -1) >= 0);
      if (d.kind === "v1") {
        assert.equal(fs.readFileSync(path.join(h.dirs[0], "memory.limit_in_bytes"), "utf8").trim(), String(48 << 20));
        assert.equal(fs.readFileSync(path.join(h.dirs[1], "cpu.cfs_quota_us"), "utf8").trim(), "50000");
        assert.equal(fs.readFileSync(path.join(h.dirs[2], "pids.max"), "utf8").trim(), "64");
      } else {
        assert.equal(fs.readFileSync(path.join(h.dirs[0], "memory.max"), "utf8").trim(), String(48 << 20));
      }
      const exited = new Promise((r) => p.once("exit", r));
      d.remove(rel);
      await exited;
      for (const dir of h.dirs) assert.equal(fs.existsSync(dir), false);
      // tidy the parents this test made
      for (const dir of h.dirs) {
        let cur = path.dirname(dir);
        for (let i = 0; i < 3; i++, cur = path.dirname(cur)) fs.rmdirSync(cur);
      }
    });

    test("a bad path is refused", () => {
      assert.throws(() => driver!.create("../escape", { memoryBytes: 1 << 24 }), /bad cgroup path/);
    });
  });
}

test("v2 without a memory controller says what is wrong", { skip: v2 && !v2.available().has("memory") ? false : "no such hierarchy here" }, () => {
  assert.throws(() => v2!.create("paas-test-cg-none/x", { memoryBytes: 1 << 24 }), /no memory controller/);
});
