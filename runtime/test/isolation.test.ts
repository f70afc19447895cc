/**
 * Isolation inside a container, syscall by syscall: a small static C probe (compiled here
 * with the host's gcc, copied into the container) calls each syscall the seccomp filter
 * must refuse and prints its errno; the same probe on the host (no filter) shows that the
 * kernel alone would have let several of them through, so the filter is what refuses them.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import type { Runtime } from "../src/containers.ts";
import { Layout } from "../src/paths.ts";
import { testRuntime } from "./helpers.ts";

// The monitors this file's helper starts rotate their logs at 64 kB (default 10 MiB).
process.env.PAAS_LOG_MAX_BYTES = String(64 << 10);

let rt: Runtime;
let cleanup: () => Promise<void>;
let probeTar: Buffer;
let probeBin: string;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "paas-iso-"));

// Each probe prints "NAME RESULT" where RESULT is 0 (allowed) or the errno name.
const PROBE_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static void show(const char *name, long r) {
  printf("%s %s\n", name, r < 0 ? strerrorname_np(errno) : "0");
  fflush(stdout);
}
static int child(void *a) { return 0; }
static char stack[65536];
int main(void) {
  show("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0));
  show("umount2", syscall(SYS_umount2, "/proc", 2));
  show("pivot_root", syscall(SYS_pivot_root, ".", "."));
  show("unshare_user", syscall(SYS_unshare, CLONE_NEWUSER));
  show("unshare_net", syscall(SYS_unshare, CLONE_NEWNET));
  show("setns", syscall(SYS_setns, 0, 0));
  show("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
  show("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -3));
  show("bpf", syscall(SYS_bpf, 0, 0, 0));
  show("ptrace", syscall(SYS_ptrace, 0 /* TRACEME */, 0, 0, 0));
  show("perf_event_open", syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));
  show("userfaultfd", syscall(SYS_userfaultfd, 0));
  show("io_uring_setup", syscall(425, 1, stack));
  show("init_module", syscall(SYS_init_module, stack, 16, ""));
  show("finit_module", syscall(SYS_finit_module, 0, "", 0));
  show("delete_module", syscall(SYS_delete_module, "ext4", 0));
  show("kexec_load", syscall(SYS_kexec_load, 0, 0, 0, 0));
  show("open_by_handle_at", syscall(SYS_open_by_handle_at, 0, stack, 0));
  show("reboot", syscall(SYS_reboot, 0, 0, 0, 0));
  show("swapon", syscall(SYS_swapon, "/nonexistent", 0));
  show("settimeofday", syscall(SYS_settimeofday, 0, 0));
  show("syslog", syscall(SYS_syslog, 10 /* SIZE_BUFFER */, 0, 0));
  show("iopl", syscall(SYS_iopl, 0));
  show("acct", syscall(SYS_acct, 0));
  show("fsopen", syscall(430, "tmpfs", 0));
  show("x32_getpid", syscall(0x40000000 | 39));
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(pid, 0, 0);
  show("clone_newuser", pid);
  struct clone_args ca = {.exit_signal = SIGCHLD};
  pid = syscall(SYS_clone3, &ca, sizeof ca);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(pid, 0, 0);
  show("clone3", pid);
  /* what must keep working: fork, threads-style clone, getpid */
  pid = fork();
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid(pid, 0, 0);
  show("fork", pid);
  pid = clone(child, stack + sizeof stack, CLONE_VM | CLONE_FS | CLONE_FILES | SIGCHLD, 0);
  if (pid > 0) waitpid(pid, 0, 0);
  show("clone_vm", pid);
  show("getpid", syscall(SYS_getpid));
  return 0;
}
`;

function parse(out: string): Record<string, string> {
  return Object.fromEntries(out.trim().split("\n").map((l) => l.split(" ") as [string, string]));
}

async function runIn(image: string, cmd: string[], files?: Buffer): Promise<{ code: number; lines: string[] }> {
  const c = rt.create({ image, cmd, memoryBytes: 64 << 20, cgroupParent: "t/iso", network: "none" });
  if (files) await rt.putArchive(c.id, "/", Readable.from(files));
  await rt.start(c.id);
  const w = await rt.wait(c.id);
  const lines: string[] = [];
  for await (const l of rt.logLines(c.id)) lines.push(JSON.parse(l).line);
  await rt.remove(c.id);
  return { code: w.exitCode, lines };
}

before(async () => {
  ({ rt, cleanup } = await testRuntime("i", 30));
  fs.writeFileSync(path.join(tmp, "probe.c"), PROBE_C);
  fs.mkdirSync(path.join(tmp, "root"));
  probeBin = path.join(tmp, "root", "probe");
  const cc = spawnSync("gcc", ["-static", "-O1", "-o", probeBin, path.join(tmp, "probe.c")], { encoding: "utf8" });
  assert.equal(cc.status, 0, cc.stderr);
  probeTar = spawnSync("tar", ["-C", path.join(tmp, "root"), "-cf", "-", "probe"]).stdout;
});
after(async () => {
  await cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const DENIED = [
  "mount", "umount2", "pivot_root", "unshare_user", "unshare_net", "setns", "keyctl", "add_key", "bpf", "ptrace",
  "perf_event_open", "userfaultfd", "io_uring_setup", "init_module", "finit_module", "delete_module", "kexec_load",
  "open_by_handle_at", "reboot", "swapon", "settimeofday", "syslog", "iopl", "acct", "fsopen", "x32_getpid", "clone_newuser",
];

test("seccomp refuses the dangerous syscalls with EPERM (clone3 with ENOSYS) and lets the rest through", async () => {
  const { code, lines } = await runIn("stack/busybox", ["/probe"], probeTar);
  assert.equal(code, 0, lines.join("\n"));
  const r = parse(lines.join("\n"));
  for (const name of DENIED) assert.equal(r[name], "EPERM", `${name}: ${r[name]}`);
  assert.equal(r.clone3, "ENOSYS");
  for (const name of ["fork", "clone_vm", "getpid"]) assert.equal(r[name], "0", `${name} must work: ${r[name]}`);
});

test("without the filter (on the host, as root) the kernel would allow several of them: the filter is what refuses", () => {
  // Run the probe in a throwaway user+mount namespace so nothing it does touches the host
  // (its pivot_root there may upset unshare's own exit; only the probe's lines count).
  const out = spawnSync("unshare", ["-Umr", "--fork", probeBin], { encoding: "utf8", cwd: tmp });
  const r = parse(out.stdout);
  assert.equal(r.getpid, "0", out.stdout + out.stderr);
  for (const name of ["unshare_user", "keyctl", "ptrace", "mount", "clone3", "io_uring_setup"]) {
    assert.notEqual(r[name], "EPERM", `${name} is refused even without the filter (${r[name]}); pick another witness`);
  }
});

test("the container's process status shows the filter, no_new_privs and Docker's capability set", async () => {
  const { lines } = await runIn("stack/busybox", ["sh", "-c", "grep -E '^(Seccomp|NoNewPrivs|CapEff|CapBnd):' /proc/self/status"]);
  const st = Object.fromEntries(lines.map((l) => l.split(/:\s+/) as [string, string]));
  assert.equal(st.Seccomp, "2", "mode 2 = filter");
  assert.equal(st.NoNewPrivs, "1");
  // Docker's default: chown dac_override fowner fsetid kill setgid setuid setpcap net_bind_service
  // net_raw sys_chroot audit_write setfcap (Docker also keeps mknod) = 0xa00425fb; no sys_admin, sys_module, sys_ptrace...
  assert.equal(st.CapEff, "00000000a00425fb");
  assert.equal(st.CapBnd, "00000000a00425fb");
});

test("node runs under the filter: child processes (clone3 falls back to clone) and file I/O work", async () => {
  const { code, lines } = await runIn("stack/node", [
    "node", "-e",
    "const cp=require('child_process');const fs=require('fs');fs.writeFileSync('/tmp/x','ok');console.log(cp.execSync('cat /tmp/x').toString().trim())",
  ]);
  assert.equal(code, 0, lines.join("\n"));
  assert.deepEqual(lines, ["ok"]);
});

test("the monitor rotates the log by size, keeps one old file, and readers (also a follower) see every line in order", { timeout: 60_000 }, async () => {
  const pad = "x".repeat(80);
  // 3000 lines of ~130 bytes as ndjson (~390 kB): several rotations at 64 kB; in bursts so a
  // follower polling every 50 ms is in the middle of it.
  const c = rt.create({
    image: "stack/busybox",
    cmd: ["sh", "-c", `i=0; while [ $i -lt 3000 ]; do echo "line $i ${pad}"; i=$((i+1)); [ $((i % 200)) = 0 ] && sleep 0.1; done; true`],
    memoryBytes: 64 << 20,
    cgroupParent: "t/iso",
    network: "none",
  });
  await rt.start(c.id);
  const followed: number[] = [];
  for await (const l of rt.logLines(c.id, { follow: true })) followed.push(Number(JSON.parse(l).line.split(" ")[1]));
  assert.equal((await rt.wait(c.id)).exitCode, 0);
  assert.deepEqual(followed, Array.from({ length: 3000 }, (_, i) => i), "the follower saw every line once, in order");

  const dir = new Layout(rt.opts.dataDir).container(c.id);
  const cur = fs.statSync(path.join(dir, "log.ndjson")).size;
  const old = fs.statSync(path.join(dir, "log.ndjson.1")).size;
  assert.ok(cur <= 64 << 10 && old <= 64 << 10 && old > 32 << 10, `sizes ${cur} ${old}`);
  assert.ok(!fs.existsSync(path.join(dir, "log.ndjson.2")));

  // History: the rotated file first, then the current one: the last lines, contiguous.
  const kept: number[] = [];
  for await (const l of rt.logLines(c.id)) kept.push(Number(JSON.parse(l).line.split(" ")[1]));
  assert.equal(kept.at(-1), 2999);
  assert.ok(kept.length > 500 && kept.length < 1100, `kept ${kept.length} lines`);
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => 3000 - kept.length + i));
  const tail: string[] = [];
  for await (const l of rt.logLines(c.id, { tail: 700 })) tail.push(JSON.parse(l).line.split(" ")[1]);
  assert.deepEqual(tail.map(Number), kept.slice(-700));
  await rt.remove(c.id);
});
