/**
 * Escape attempts, each made as root inside a container (stack/busybox; stack/node where a
 * node server is handier), each asserting the attempt fails AND the host is untouched.
 * What stops each one: see the comment above it. (Filling the host disk beyond the
 * container's quota is the limits' test.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import type { Runtime } from "../src/containers.ts";
import { testRuntime } from "./helpers.ts";

let rt: Runtime;
let cleanup: () => Promise<void>;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "paas-escape-"));

// The classic double chroot: chroot into a subdir while the cwd stays outside it, climb
// with "..", chroot("."). Under a chroot-based jail this reaches the real root; under
// pivot_root with the old root detached, the top is still the container's root.
const BREAKOUT_C = String.raw`
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {
  mkdir("/jail", 0755);
  if (chroot("/jail") < 0) { perror("chroot jail"); return 1; }
  for (int i = 0; i < 64; i++) if (chdir("..") < 0) perror("chdir ..");
  if (chroot(".") < 0) { perror("chroot ."); return 1; }
  struct stat st;
  printf("marker %s\n", stat("/escape-marker", &st) == 0 ? "yes" : "no");
  DIR *d = opendir("/");
  struct dirent *e;
  while (d && (e = readdir(d))) printf("entry %s\n", e->d_name);
  return 0;
}
`;
let breakoutTar: Buffer;

async function runIn(
  cmd: string[],
  opts: { image?: string; team?: string; files?: Buffer; network?: "bridge" | "none" } = {},
): Promise<{ code: number; lines: string[] }> {
  const c = await startIn(cmd, opts);
  const w = await rt.wait(c.id);
  const lines = await logsOf(c.id);
  await rt.remove(c.id);
  return { code: w.exitCode, lines };
}

async function startIn(cmd: string[], opts: { image?: string; team?: string; files?: Buffer; network?: "bridge" | "none" } = {}) {
  const c = rt.create({
    image: opts.image ?? "stack/busybox",
    cmd,
    // node (the team test's server) needs room: at 64 MiB it can be OOM-killed mid-test
    memoryBytes: (opts.image === "stack/node" ? 256 : 64) << 20,
    cgroupParent: `${opts.team ?? "esc"}/app`,
    network: opts.network ?? "bridge",
  });
  if (opts.files) await rt.putArchive(c.id, "/", Readable.from(opts.files));
  return rt.start(c.id);
}

async function logsOf(id: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const l of rt.logLines(id)) lines.push(JSON.parse(l).line);
  return lines;
}

before(async () => {
  ({ rt, cleanup } = await testRuntime("x", 31));
  fs.writeFileSync(path.join(tmp, "breakout.c"), BREAKOUT_C);
  const root = path.join(tmp, "root");
  fs.mkdirSync(root);
  const cc = spawnSync("gcc", ["-static", "-O1", "-o", path.join(root, "breakout"), path.join(tmp, "breakout.c")], { encoding: "utf8" });
  assert.equal(cc.status, 0, cc.stderr);
  fs.writeFileSync(path.join(root, "escape-marker"), "container\n");
  breakoutTar = spawnSync("tar", ["-C", root, "-cf", "-", "breakout", "escape-marker"]).stdout;
});
after(async () => {
  await cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const hostMounts = () => fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => / \/mnt /.test(l)).length;

// mount(2) is refused by seccomp (and CAP_SYS_ADMIN is gone); no /dev/vda exists inside,
// and mknod of one is refused (no CAP_MKNOD).
test("mounting the host disk, a new proc or sysfs fails", async () => {
  const before = hostMounts();
  const { lines } = await runIn([
    "sh", "-c",
    "for a in '/dev/vda /mnt' '-t ext4 /dev/vda /mnt' '-t proc proc /mnt' '-t sysfs sysfs /mnt' '-t tmpfs t /mnt' '-o remount,rw /proc/sys'; do mount $a 2>/dev/null; echo \"mount $a => $?\"; done; " +
      "mknod /tmp/vda b 254 0 2>/dev/null; echo \"mknod => $?\"; mount /tmp/vda /mnt 2>/dev/null; echo \"mount mknod'ed => $?\"; echo \"mnt: $(ls -A /mnt | wc -l)\"; echo \"vda: $(ls /dev/vda 2>/dev/null | wc -l)\"",
  ]);
  for (const l of lines.filter((x) => x.includes("=>"))) assert.doesNotMatch(l, /=> 0$/, l);
  assert.ok(lines.includes("mnt: 0"), lines.join("\n"));
  assert.ok(lines.includes("vda: 0"));
  assert.equal(hostMounts(), before, "no new mount on the host's /mnt");
});

// /proc/sys and /proc/sysrq-trigger are read-only bind mounts, sysfs is mounted read-only,
// and remounting them is refused (seccomp, no CAP_SYS_ADMIN).
test("writing /proc/sys, /proc/sysrq-trigger and /sys fails and changes nothing on the host", async () => {
  const thp = "/sys/kernel/mm/transparent_hugepage/enabled";
  const hostBefore = { hostname: os.hostname(), thp: fs.readFileSync(thp, "utf8"), swappiness: fs.readFileSync("/proc/sys/vm/swappiness", "utf8") };
  const { lines } = await runIn([
    "sh", "-c",
    // sysrq "h" only prints help to the kernel log, in case the write went through
    `echo pwned > /proc/sys/kernel/hostname; echo "hostname => $?"; echo 7 > /proc/sys/vm/swappiness; echo "swappiness => $?"; ` +
      `echo h > /proc/sysrq-trigger; echo "sysrq => $?"; echo never > ${thp}; echo "thp => $?"; echo 1 > /sys/kernel/profiling; echo "profiling => $?"`,
  ]);
  assert.equal(lines.filter((l) => l.includes("=>")).length, 5, lines.join("\n"));
  for (const l of lines.filter((x) => x.includes("=>"))) assert.doesNotMatch(l, /=> 0$/, l);
  assert.equal(os.hostname(), hostBefore.hostname);
  assert.equal(fs.readFileSync(thp, "utf8"), hostBefore.thp);
  assert.equal(fs.readFileSync("/proc/sys/vm/swappiness", "utf8"), hostBefore.swappiness);
});

// pid namespace: the container's /proc lists its own processes only; a host pid does not
// exist there, so it cannot be signalled.
test("host pids are invisible and cannot be signalled", async () => {
  const hostPid = process.pid; // this test process stands for the agent
  const { lines } = await runIn(["sh", "-c", `ps -o pid | tail -n +2; kill -0 ${hostPid} 2>/dev/null; echo "kill => $?"; ls /proc/${hostPid} >/dev/null 2>&1; echo "proc => $?"; kill -9 1 2>/dev/null; echo alive`]);
  const pids = lines.filter((l) => /^\s*\d+$/.test(l)).map(Number);
  assert.ok(pids.includes(1), lines.join("\n"));
  assert.ok(pids.every((p) => p < 100), `only container pids: ${pids}`);
  assert.ok(lines.includes("kill => 1"), lines.join("\n"));
  assert.ok(lines.includes("proc => 1"));
  assert.ok(fs.existsSync(`/proc/${hostPid}`));
});

// No CAP_MKNOD: the node cannot be made, in /tmp (overlay, also nodev) or in /dev (tmpfs).
test("mknod of a block device fails, so the host disk cannot be read", async () => {
  const { lines } = await runIn(["sh", "-c", "for p in /tmp/vda /dev/vda; do mknod $p b 254 0 2>/dev/null; echo \"mknod $p => $?\"; head -c 512 $p 2>/dev/null | wc -c; done"]);
  assert.deepEqual(lines, ["mknod /tmp/vda => 1", "0", "mknod /dev/vda => 1", "0"]);
});

// init_module/finit_module/delete_module are refused by seccomp (and CAP_SYS_MODULE is gone).
// (A kernel built without module support has no /proc/modules; the attempts must fail all the same.)
const modules = () => (fs.existsSync("/proc/modules") ? fs.readFileSync("/proc/modules", "utf8") : "");
test("loading or removing a kernel module fails; the host's module list is unchanged", async () => {
  const modsBefore = modules();
  const { lines } = await runIn(["sh", "-c", "printf '\\177ELFjunk' > /tmp/x.ko; insmod /tmp/x.ko 2>/dev/null; echo \"insmod => $?\"; rmmod ext4 2>/dev/null; echo \"rmmod => $?\"; modprobe br_netfilter 2>/dev/null; echo \"modprobe => $?\""]);
  assert.equal(lines.length, 3, lines.join("\n"));
  for (const l of lines) assert.doesNotMatch(l, /=> 0$/, l);
  assert.equal(modules(), modsBefore);
});

// pivot_root (not chroot) with the old root detached: there is no host root to climb to.
test("the double-chroot breakout ends inside the container's root", async () => {
  const { code, lines } = await runIn(["/breakout"], { files: breakoutTar, network: "none" });
  assert.equal(code, 0, lines.join("\n"));
  assert.ok(lines.includes("marker yes"), `still the container's root: ${lines.join(", ")}`);
  const entries = lines.filter((l) => l.startsWith("entry ")).map((l) => l.slice(6));
  const hostOnly = fs.readdirSync("/").filter((e) => !entries.includes(e) && fs.statSync(path.join("/", e)).isDirectory());
  assert.ok(hostOnly.length > 0);
  for (const e of ["work", "boot"]) if (fs.existsSync(`/${e}`)) assert.ok(!entries.includes(e), `host dir /${e} seen after the breakout`);
});

/** Waits until the host can connect to ip:port (the router's path must keep working). */
async function waitListening(ip: string, port: number) {
  const end = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: ip, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${ip}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// iptables FORWARD on bridged traffic (br_netfilter): chain PAASI-<bridge> accepts only
// source and destination in one team's ipset.
test("another team's container is unreachable; the same team's and the host's connections work", { timeout: 60_000 }, async () => {
  const server = await startIn(["node", "-e", "require('net').createServer(s=>{s.on('error',()=>{});s.end('hello from A\\n')}).listen(8080)"], { image: "stack/node", team: "team-a" });
  try {
    // host -> container (the router's way) works; the probe resets its connection, which
    // the server shrugs off (an unhandled socket error would kill it)
    await waitListening(server.ip!, 8080);
    const probe = `nc -w 2 ${server.ip} 8080 </dev/null 2>/tmp/err || { echo failed; cat /tmp/err >&2; ip addr show eth0 >&2; ip route >&2; }`;
    const same = await runIn(["sh", "-c", probe], { team: "team-a" });
    assert.deepEqual(same.lines, ["hello from A"], `same team connects (server ${server.ip}: ${JSON.stringify(rt.get(server.id))})`);
    const other = await runIn(["sh", "-c", probe], { team: "team-b" });
    // (after "failed": nc's error and the client's address and routes, for the record)
    assert.equal(other.lines[0], "failed", `another team does not: ${other.lines.join("\n")}`);
    const ping = await runIn(["sh", "-c", `ping -c 1 -W 1 ${server.ip} >/dev/null 2>&1 && echo reached || echo failed`], { team: "team-b" });
    assert.deepEqual(ping.lines, ["failed"], "not even ping");
  } finally {
    await rt.remove(server.id, { force: true });
  }
});

// INPUT from the bridge: only replies to the host's own connections.
test("the host's loopback and other services are unreachable from a container", { timeout: 60_000 }, async () => {
  let accepted = 0;
  const servers: net.Server[] = [];
  const listen = (host: string) =>
    new Promise<number>((resolve) => {
      const s = net.createServer((c) => {
        accepted++;
        c.end("host secret\n");
      });
      servers.push(s);
      s.listen(0, host, () => resolve((s.address() as net.AddressInfo).port));
    });
  try {
    const loopPort = await listen("127.0.0.1");
    const anyPort = await listen("0.0.0.0");
    const hostIps = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a && a.family === "IPv4" && !a.internal)
      .map((a) => a!.address);
    const gw = rt.gateway;
    const targets = [`127.0.0.1 ${loopPort}`, `${gw} ${loopPort}`, `${gw} ${anyPort}`, ...hostIps.map((ip) => `${ip} ${anyPort}`)];
    const { lines } = await runIn(["sh", "-c", targets.map((t) => `nc -w 2 ${t} </dev/null 2>/dev/null || echo "failed ${t}"`).join("; ")]);
    assert.deepEqual(lines, targets.map((t) => `failed ${t}`));
    assert.equal(accepted, 0, "the host's servers accepted nothing");
  } finally {
    for (const s of servers) s.close();
  }
});
