/**
 * Resource limits on real kernel features (root): memory (OOM reported with the limit), CPU
 * quota measured, a fork bomb held at pids.max, a team cap on the sum of its containers,
 * pause/unpause through the freezer, the writable layer's disk quota (ENOSPC), disk I/O
 * throttling and network bandwidth, each measured; nothing leaks after remove.
 * Measured numbers are printed with "limits:" (the report quotes them).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { AddressInfo } from "node:net";
import { AgentClient, type AgentError, type ContainerSpec } from "@paas/shared/agent-api";
import { createAgentServer } from "../src/agent/server.ts";
import type { Runtime } from "../src/containers.ts";
import { bandwidthQdiscs } from "../src/limits/bandwidth.ts";
import { createQuotaDir, isMountPoint, loopDevicesUnder, quotaClassBytes, quotaDevice, releaseQuotaDir } from "../src/limits/disk.ts";
import { diskPoolDir, poolSpares, poolTarget, takeSpare } from "../src/limits/diskpool.ts";
import { netnsName, vethName } from "../src/network.ts";
import type { Layout } from "../src/paths.ts";
import { HelperServer } from "../src/helper.ts";
import { cgroups, testRuntime, until } from "./helpers.ts";

const MiB = 1 << 20;
let rt: Runtime;
let cleanup: () => Promise<void>;
let dataDir: string;
let layout: Layout;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const report = (m: string) => console.log(`limits: ${m}`);

before(async () => {
  ({ rt, cleanup, dataDir, layout } = await testRuntime("l", 50));
});
after(async () => {
  for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch(() => {});
  // the pool's spares are mounted under the data dir: unmounted before it is deleted
  await rt.teardown();
  assert.deepEqual(loopDevicesUnder(dataDir), [], "no loop device left after the pool is closed");
  await cleanup();
});

function box(cmd: string, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return { image: "stack/busybox", cmd: ["sh", "-c", cmd], memoryBytes: 32 * MiB, cgroupParent: "t/app", network: "none", ...extra };
}

async function logs(id: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of rt.logLines(id)) out.push(JSON.parse(l).line);
  return out;
}

const pool = () => diskPoolDir(layout.root);
/** For the quota dirs these tests make themselves. */
const helper = new HelperServer();
const mountsUnder = (dir: string) =>
  fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((t) => t?.startsWith(dir + "/"));

/**
 * Loop devices and mounts under the data dir that are not the disk pool's (each spare, and
 * one being made by a refill under way, is one loop device and one mount in the pool's dir),
 * and pool mounts that no spare owns any more.
 */
function diskHoldings() {
  const poolMounts = mountsUnder(pool());
  const images = fs.existsSync(pool()) ? fs.readdirSync(pool()) : [];
  return {
    loops: loopDevicesUnder(dataDir).length - loopDevicesUnder(pool() + "/").length,
    mounts: mountsUnder(dataDir).length - poolMounts.length,
    orphans: poolMounts.filter((m) => !images.some((f) => f.endsWith(`.${path.basename(m)}.img`))).length,
  };
}

/** Removes the container and checks it left no cgroup leaf, mount or loop device behind. */
async function removeClean(id: string) {
  const cg = rt.inspect(id).cgroup;
  await rt.remove(id, { force: true });
  assert.equal(cgroups.exists(cg), false, "cgroup leaf removed");
  for (const d of cgroups.dirs(cg)) assert.equal(fs.existsSync(d), false, `${d} removed`);
  assert.equal(fs.existsSync(layout.container(id)), false);
  assert.deepEqual(diskHoldings(), { loops: 0, mounts: 0, orphans: 0 }, "no loop device or mount left but the pool's spares");
}

/** Until the pool holds `n` spares of `bytes` (it refills in the background). */
async function poolReady(bytes: number, n: number) {
  for (let i = 0; i < 300 && poolSpares(pool(), bytes).length < n; i++) await sleep(100);
  assert.equal(poolSpares(pool(), bytes).length, n, `pool of ${bytes}-byte spares refilled`);
}

describe("limits", () => {
  test("memory: OOM-killed, reported with the container's limit", async () => {
    const c = rt.create(box('x=0123456789abcdef; while true; do x="$x$x"; done', { memoryBytes: 16 * MiB }));
    await rt.start(c.id);
    const w = await rt.wait(c.id);
    assert.equal(w.oomKilled, true);
    assert.equal(w.memoryLimitBytes, 16 * MiB);
    const info = rt.get(c.id);
    assert.equal(info.oomKilled, true);
    assert.equal(info.memoryLimitBytes, 16 * MiB);
    await removeClean(c.id);
  });

  test("cpu: a busy loop is held at its quota (0.2 CPU), the weight is set", async () => {
    const c = rt.create(box("while :; do :; done", { cpuMillis: 200, cpuShares: 256 }));
    await rt.start(c.id);
    const cg = rt.inspect(c.id).cgroup;
    assert.equal(cgroups.readLimits(cg).cpuShares, 256);
    await sleep(300);
    const u0 = cgroups.cpuUsageNs(cg)!;
    const t0 = process.hrtime.bigint();
    await sleep(2000);
    const u1 = cgroups.cpuUsageNs(cg)!;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cores = (u1 - u0) / 1e9 / secs;
    report(`cpu quota 0.2 -> busy loop used ${cores.toFixed(3)} of a core over ${secs.toFixed(2)} s`);
    assert.ok(cores >= 0.15 && cores <= 0.3, `usage ${cores} outside [0.15, 0.3]`);
    await removeClean(c.id);
  });

  test("cpu startup boost: no quota for cpuBoostSeconds after the start, then the quota; a busy loop runs past it meanwhile", async () => {
    const c = rt.create(box("while :; do :; done", { cpuMillis: 200, cpuBoostSeconds: 2 }));
    await rt.start(c.id);
    const cg = rt.inspect(c.id).cgroup;
    assert.equal(cgroups.readLimits(cg).cpuMillis, undefined, "no quota while booting");
    const u0 = cgroups.cpuUsageNs(cg)!;
    await sleep(1000);
    const boosted = (cgroups.cpuUsageNs(cg)! - u0) / 1e9;
    report(`cpu boost: a busy loop used ${boosted.toFixed(2)} s of CPU in its first second (quota 0.2)`);
    assert.ok(boosted > 0.3, `used ${boosted} s of CPU in 1 s: held to the quota during the boost`);
    await until("the quota after the boost", () => cgroups.readLimits(cg).cpuMillis === 200, 5000);
    await removeClean(c.id);
  });

  test("pids: a fork bomb is held at pidsLimit and the host stays responsive", async () => {
    const c = rt.create(box("b(){ b|b& }; b; sleep 30", { pidsLimit: 64, memoryBytes: 64 * MiB }));
    await rt.start(c.id);
    const cg = rt.inspect(c.id).cgroup;
    const pidsDir = cgroups.dirs(cg).find((d) => fs.existsSync(path.join(d, "pids.current")))!;
    let peak = 0;
    let worstHost = 0;
    const end = Date.now() + 3000;
    while (Date.now() < end) {
      peak = Math.max(peak, Number(fs.readFileSync(`${pidsDir}/pids.current`, "utf8")));
      const t = performance.now();
      const r = spawnSync("sh", ["-c", "echo ok"], { encoding: "utf8" });
      worstHost = Math.max(worstHost, performance.now() - t);
      assert.equal(r.stdout, "ok\n");
      await sleep(100);
    }
    const refused = Number(/max (\d+)/.exec(fs.readFileSync(`${pidsDir}/pids.events`, "utf8"))?.[1] ?? 0);
    report(`fork bomb: peak ${peak} pids (limit 64), ${refused} forks refused, slowest host command ${worstHost.toFixed(1)} ms`);
    assert.ok(peak <= 64 && peak >= 32, `peak ${peak}`);
    assert.ok(refused > 0, "forks were refused at the limit");
    assert.ok(worstHost < 1000, `a host command took ${worstHost} ms during the bomb`);
    await removeClean(c.id);
  });

  test("hierarchy: a team cap of 64 MB holds the sum of two 40 MB containers", async () => {
    // dd keeps its 40 MB buffer (filled from /dev/zero) while blocked on a pipe nobody reads.
    const hog = "dd if=/dev/zero bs=40M count=1 2>/dev/null | sleep 3";
    const pair = async (team: string) => {
      const a = rt.create(box(hog, { memoryBytes: 64 * MiB, cgroupParent: `${team}/app` }));
      const b = rt.create(box(hog, { memoryBytes: 64 * MiB, cgroupParent: `${team}/app` }));
      await rt.start(a.id);
      await rt.start(b.id);
      const res = [await rt.wait(a.id), await rt.wait(b.id)];
      await removeClean(a.id);
      await removeClean(b.id);
      return res;
    };
    // control: without a team cap both fit
    const free = await pair("tfree");
    assert.deepEqual(free.map((r) => r.oomKilled), [false, false]);
    assert.deepEqual(rt.setTeamLimits("tcap", { memoryBytes: 64 * MiB }), { memoryBytes: 64 * MiB });
    assert.throws(() => rt.setTeamLimits("tcap", { memoryBytes: "64m" as unknown as number }), /team\.memoryBytes: expected number, got "64m"/);
    const capped = await pair("tcap");
    report(`team cap 64 MB, two 40 MB containers: oomKilled ${capped.map((r) => r.oomKilled).join(",")}`);
    assert.equal(capped.filter((r) => r.oomKilled).length >= 1, true);
    assert.equal(cgroups.exists(`${rt.opts.cgroupRoot}/tcap/app`), false, "the app's node goes with its last container");
    assert.equal(cgroups.readLimits(`${rt.opts.cgroupRoot}/tcap`).memoryBytes, 64 * MiB, "the team's node stays, with its cap");
  });

  test("pause/unpause: a paused container's counter stops and resumes", async () => {
    const c = rt.create(box("i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done"));
    await rt.start(c.id);
    await until("the counter's first lines", async () => (await logs(c.id)).length >= 3);
    assert.equal((await rt.pause(c.id)).state, "paused");
    assert.equal(rt.get(c.id).state, "paused");
    await sleep(100);
    const n0 = (await logs(c.id)).length;
    await sleep(600);
    const n1 = (await logs(c.id)).length;
    assert.equal(n1, n0, "no output while paused");
    assert.equal((await rt.unpause(c.id)).state, "running");
    await until(`the counter to resume (${n1} lines when paused)`, async () => (await logs(c.id)).length > n1 + 3, 5000);
    await assert.rejects(rt.unpause(c.id), /not paused/);
    // a paused container can be stopped and removed
    await rt.pause(c.id);
    await removeClean(c.id);
  });

  test("disk: the writable layer's quota gives ENOSPC, the host disk is untouched", async () => {
    const hostFree0 = fs.statfsSync(dataDir).bavail * fs.statfsSync(dataDir).bsize;
    const plain = rt.create(box("true"));
    let t = performance.now();
    await rt.start(plain.id);
    const plainMs = performance.now() - t;
    await rt.wait(plain.id);
    await removeClean(plain.id);
    const c = rt.create(box("dd if=/dev/zero of=/big bs=1M count=64; echo rc=$?; df -k / | tail -1", { diskBytes: 16 * MiB }));
    t = performance.now();
    await rt.start(c.id);
    const quotaMs = performance.now() - t;
    report(`disk quota: start ${quotaMs.toFixed(0)} ms with diskBytes vs ${plainMs.toFixed(0)} ms without (mke2fs + loop + mount)`);
    const w = await rt.wait(c.id);
    const out = (await logs(c.id)).join("\n");
    assert.match(out, /No space left on device/);
    assert.match(out, /rc=1/);
    assert.equal(w.exitCode, 0);
    const upper = rt.inspect(c.id).upperDir;
    const written = fs.statSync(path.join(upper, "big")).size;
    assert.ok(written <= 16 * MiB && written > 8 * MiB, `wrote ${written}`);
    const hostFree1 = fs.statfsSync(dataDir).bavail * fs.statfsSync(dataDir).bsize;
    assert.ok(hostFree0 - hostFree1 < 24 * MiB, `host lost ${(hostFree0 - hostFree1) / MiB} MiB`);
    // the quota'd layer commits like any other
    const img = await rt.commit(c.id, "test/quota:v1");
    assert.equal(fs.statSync(path.join(layout.layer(img.layers.at(-1)!), "big")).size, written);
    await removeClean(c.id);
    rt.images.remove("test/quota:v1");
  });

  test("disk: createQuotaDir / releaseQuotaDir (for volumes)", async () => {
    const dir = path.join(dataDir, "vol-q");
    await createQuotaDir(helper, dir, 10 * MiB);
    await createQuotaDir(helper, dir, 10 * MiB); // idempotent
    assert.equal(isMountPoint(dir), true);
    assert.match(quotaDevice(dir), /^7:\d+$/);
    fs.writeFileSync(path.join(dir, "small"), "kept");
    assert.throws(() => fs.writeFileSync(path.join(dir, "big"), Buffer.alloc(12 * MiB)), /ENOSPC/);
    await releaseQuotaDir(helper, dir);
    assert.equal(isMountPoint(dir), false);
    assert.equal(diskHoldings().loops, 0);
    await assert.rejects(createQuotaDir(helper, dir, 1000), /at least 8388608/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("disk pool: a spare gives ENOSPC at its quota, starts faster, is never reused; the pool refills; nothing leaks", { timeout: 120_000 }, async () => {
    const size = 24 * MiB; // a class no other test asks for: the first start finds no spare
    assert.equal(quotaClassBytes(size), size);
    assert.equal(poolTarget(), 2);
    const timedStart = async (c: { id: string }) => {
      const t = performance.now();
      await rt.start(c.id);
      return performance.now() - t;
    };
    const plainMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const c = rt.create(box("true"));
      plainMs.push(await timedStart(c));
      await rt.wait(c.id);
      await removeClean(c.id);
    }
    const miss = rt.create(box("true", { diskBytes: size }));
    const missMs = await timedStart(miss);
    assert.equal(fs.realpathSync(path.join(layout.container(miss.id), "disk")), path.join(layout.container(miss.id), "disk"), "made on demand");
    await rt.wait(miss.id);
    await removeClean(miss.id);
    await poolReady(size, 2);

    // from the pool: the quota dir links to a spare; ENOSPC at the quota; a secret left behind
    const hitMs: number[] = [];
    const fill = rt.create(box("echo secret > /secret; dd if=/dev/zero of=/big bs=1M count=64; echo rc=$?", { diskBytes: size }));
    hitMs.push(await timedStart(fill));
    const spare = fs.realpathSync(path.join(layout.container(fill.id), "disk"));
    assert.ok(spare.startsWith(path.join(pool(), "m") + "/"), `pooled: ${spare}`);
    assert.equal(poolSpares(pool(), size).includes(spare), false, "taken out of the pool");
    const w = await rt.wait(fill.id);
    const out = (await logs(fill.id)).join("\n");
    assert.equal(w.exitCode, 0);
    assert.match(out, /No space left on device/);
    assert.match(out, /rc=1/);
    const written = fs.statSync(path.join(rt.inspect(fill.id).upperDir, "big")).size;
    assert.ok(written <= size && written > size / 2, `wrote ${written}`);
    await removeClean(fill.id);
    assert.equal(fs.existsSync(spare), false, "its mount point went with it");
    await poolReady(size, 2);

    // two takers at once get two different spares; a third finds none and makes its own
    const trio = [0, 1, 2].map(() => rt.create(box("cat /secret 2>&1; ls -A /; df -k / | tail -1", { diskBytes: size })));
    await Promise.all(trio.map((c) => rt.start(c.id)));
    const devices = trio.map((c) => quotaDevice(path.join(layout.container(c.id), "disk")));
    assert.equal(new Set(devices).size, 3, `distinct filesystems: ${devices}`);
    const pooled = trio.filter((c) => fs.realpathSync(path.join(layout.container(c.id), "disk")).startsWith(pool()));
    assert.equal(pooled.length, 2);
    for (const c of trio) {
      await rt.wait(c.id);
      const l = (await logs(c.id)).join("\n");
      assert.match(l, /No such file/, "no container sees another's data");
      assert.doesNotMatch(l, /big|lost\+found/);
    }
    for (const c of trio.slice(1)) await rt.remove(c.id);
    await removeClean(trio[0].id);
    await poolReady(size, 2);
    for (let i = 0; i < 2; i++) {
      const c = rt.create(box("true", { diskBytes: size }));
      hitMs.push(await timedStart(c));
      await rt.wait(c.id);
      await removeClean(c.id);
      await poolReady(size, 2);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    report(`disk pool: start ${med(hitMs).toFixed(0)} ms with a spare (median of ${hitMs.length}) vs ${missMs.toFixed(0)} ms made on demand vs ${med(plainMs).toFixed(0)} ms without a quota`);

    // a spare claimed by a process that died before it linked it: linked, never mounted twice
    const dir = path.join(dataDir, "claimed");
    const img = path.join(dataDir, ".claimed.quota.img");
    const taken = takeSpare(pool(), size, img)!;
    const loops = loopDevicesUnder(dataDir).length;
    await createQuotaDir(helper, dir, size, { pool: pool() });
    assert.equal(fs.realpathSync(dir), taken);
    assert.equal(loopDevicesUnder(dataDir).length, loops, "no second loop device for the same image");
    await releaseQuotaDir(helper, dir);
    assert.equal(fs.existsSync(dir), false);
    assert.equal(fs.existsSync(img), false);
    assert.deepEqual(diskHoldings(), { loops: 0, mounts: 0, orphans: 0 });
  });

  test("disk I/O: 20 MB written with O_DIRECT at 5 MB/s takes about 4 s", async () => {
    const c = rt.create(box("dd if=/dev/zero of=/f bs=1M count=20 oflag=direct 2>&1", { diskBytes: 64 * MiB, ioWriteBps: 5 * MiB }));
    const t = performance.now();
    await rt.start(c.id);
    const limits = cgroups.readLimits(rt.inspect(c.id).cgroup);
    assert.equal(limits.io?.[0].writeBps, 5 * MiB);
    assert.match(limits.io![0].device, /^7:\d+$/); // the loop device under the writable layer
    const w = await rt.wait(c.id);
    const secs = (performance.now() - t) / 1000;
    report(`disk I/O: 20 MB O_DIRECT at 5 MB/s took ${secs.toFixed(2)} s (${(20 / secs).toFixed(2)} MB/s)`);
    assert.equal(w.exitCode, 0, (await logs(c.id)).join("\n"));
    assert.ok(secs >= 3, `took ${secs} s`);
    await removeClean(c.id);
  });

  test("network: 4 MB to a container limited to 8 Mbit/s takes about 4 s; both directions shaped", async () => {
    const c = rt.create(box("(head -c 4194304 /dev/zero | nc -l -p 5001) & sleep 60 | nc -l -p 5000 | wc -c", { network: "bridge", netRateKbit: 8000 }));
    const info = await rt.start(c.id);
    const veth = vethName(c.id);
    assert.deepEqual(await bandwidthQdiscs(veth), ["tbf"]);
    assert.deepEqual(await bandwidthQdiscs("eth0", netnsName(c.id)), ["tbf"]);
    const bytes = 4 * MiB;
    let sock: net.Socket | undefined;
    // nc may not listen yet: retry (a SYN can also go unanswered while eth0 comes up)
    for (let i = 0; i < 40 && !sock; i++) {
      sock = await new Promise<net.Socket | undefined>((resolve) => {
        const s = net.connect(5000, info.ip!, () => {
          s.setTimeout(0);
          resolve(s);
        });
        s.setTimeout(500, () => {
          s.destroy();
          resolve(undefined);
        });
        s.once("error", () => resolve(undefined));
      });
      if (!sock) await sleep(100);
    }
    assert.ok(sock, "connected to the container");
    let sockErr: Error | undefined;
    sock.on("error", (e) => (sockErr = e));
    const closed = new Promise((r) => sock!.once("close", r));
    const t = performance.now();
    const chunk = Buffer.alloc(64 * 1024);
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      if (!sock.write(chunk)) await Promise.race([new Promise((r) => sock!.once("drain", r)), closed]);
      assert.equal(sockErr, undefined, `sending: ${sockErr?.message}; container: ${(await logs(c.id)).join("\n")}`);
    }
    sock.end();
    // nc closes when it has read everything (its stdin stays open, so not before)
    await closed;
    const secs = (performance.now() - t) / 1000;
    let got = "";
    for await (const l of rt.logLines(c.id, { follow: true })) if ((got = JSON.parse(l).line)) break;
    assert.equal(Number(got), bytes, "the container received every byte");
    const mbit = (bytes * 8) / 1e6 / secs;
    report(`network to the container: 4 MiB at 8 Mbit/s took ${secs.toFixed(2)} s (${mbit.toFixed(2)} Mbit/s)`);
    assert.ok(secs >= 3, `took ${secs} s`);
    assert.ok(secs < 12, `took ${secs} s`);

    // the other way: the container sends 4 MiB on the connection the host opens
    const t2 = performance.now();
    const received = await new Promise<number>((resolve, reject) => {
      let n = 0;
      const s = net.connect(5001, info.ip!);
      s.on("data", (d) => (n += d.length));
      s.on("end", () => resolve(n));
      s.on("error", reject);
    });
    const secs2 = (performance.now() - t2) / 1000;
    report(`network from the container: 4 MiB at 8 Mbit/s took ${secs2.toFixed(2)} s (${((received * 8) / 1e6 / secs2).toFixed(2)} Mbit/s)`);
    assert.equal(received, bytes);
    assert.ok(secs2 >= 3, `took ${secs2} s`);
    await removeClean(c.id);
    assert.deepEqual(await bandwidthQdiscs(veth), [], "qdiscs gone with the veth");
    assert.equal(fs.existsSync(`/sys/class/net/${veth}`), false);
  });

  test("through the agent: 400 for a bad limit, team caps, pause/unpause, OOM logged with the limit", async () => {
    const server = createAgentServer(rt, { keepaliveMs: 100 });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const client = new AgentClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const logged: string[] = [];
    const origError = console.error;
    console.error = (...a: unknown[]) => void logged.push(a.join(" "));
    try {
      await assert.rejects(client.createContainer(box("true", { memoryBytes: 32 * MiB, pidsLimit: "lots" as unknown as number })), (e: AgentError) => e.status === 400 && /spec\.pidsLimit: expected number, got "lots"/.test(e.message));
      await assert.rejects(client.setTeamLimits("tagent", { memoryBytes: -5 }), (e: AgentError) => e.status === 400 && /team\.memoryBytes/.test(e.message));
      assert.deepEqual(await client.setTeamLimits("tagent", { memoryBytes: 256 * MiB, pids: 500 }), { memoryBytes: 256 * MiB, pids: 500 });
      assert.deepEqual(await client.teamLimits("tagent"), { memoryBytes: 256 * MiB, pids: 500 });
      const c = await client.createContainer(box("sleep 30", { cgroupParent: "tagent/app" }));
      await client.start(c.id);
      // the team's node holds its caps in the kernel
      assert.equal(cgroups.readLimits(`${rt.opts.cgroupRoot}/tagent`).memoryBytes, 256 * MiB);
      assert.equal(cgroups.readLimits(`${rt.opts.cgroupRoot}/tagent`).pidsLimit, 500);
      assert.equal((await client.pause(c.id)).state, "paused");
      assert.equal((await client.container(c.id)).state, "paused");
      assert.equal((await client.unpause(c.id)).state, "running");
      await assert.rejects(client.unpause(c.id), (e: AgentError) => e.status === 409);
      await client.remove(c.id, true);
      const o = await client.createContainer(box('x=0123456789abcdef; while true; do x="$x$x"; done', { memoryBytes: 16 * MiB, cgroupParent: "tagent/app" }));
      await client.start(o.id);
      const w = await client.wait(o.id);
      assert.equal(w.oomKilled, true);
      assert.equal(w.memoryLimitBytes, 16 * MiB);
      assert.equal((await client.container(o.id)).memoryLimitBytes, 16 * MiB);
      assert.ok(logged.some((l) => l.includes(`container ${o.name}`) && l.includes("OOM-killed") && l.includes(String(16 * MiB))), logged.join("\n"));
      await client.remove(o.id, true);
    } finally {
      console.error = origError;
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test("limits that are not numbers are refused with the field's name", () => {
    assert.throws(() => rt.create(box("true", { cpuMillis: "half" as unknown as number })), /spec\.cpuMillis: expected number, got "half"/);
    assert.throws(() => rt.create(box("true", { diskBytes: 100 })), /spec\.diskBytes: must be a whole number, at least 8388608, got 100/);
    assert.throws(() => rt.create(box("true", { netRateKbit: -1 })), /spec\.netRateKbit/);
    assert.throws(() => rt.create(box("true", { ioWriteBps: "5m" as unknown as number })), /spec\.ioWriteBps/);
  });
});

void os;
