/**
 * One long-lived `paas-run serve` process per runtime. Process creation is the cost of a
 * container start (a spawn from node forks a large process: 10-30 ms here), so starts
 * and the few commands they need (`ip -batch`, iptables) are forked by this small
 * process instead. Monitors it starts are detached (setsid) and outlive it; it exits
 * when its stdin closes (when this process exits).
 *
 * Use (one server per Runtime, handed to the parts that fork: network, volumes, disk quotas):
 *   const helper = new HelperServer();
 *   const pid = await helper.run({ dir, rootfs, overlay: { lower, upper, work }, hostname, cwd: "/",
 *                                  uid: 0, gid: 0, oomFile, binds: [...], cgroups: [...], env: [...], cmd });
 *   const { code, output } = await helper.exec("ip", ["-batch", "-"], script);
 *   helper.close();                                   // the server exits; pending requests fail
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";
import { RuntimeError, helperPath } from "./util.ts";

/** What `paas-run run` takes (its flags, runtime/native/paas-run.c's header), typed. */
export interface RunRequest {
  /** The container's state dir: the monitor writes pid, monitor.pid, status.json and the log there. */
  dir: string;
  /** Where its root is mounted. */
  rootfs: string;
  /** Overlay parts (lower: top layer first); absent when `rootfs` is mounted already (volumes). */
  overlay?: { lower: string; upper: string; work: string };
  hostname: string;
  cwd: string;
  uid: number;
  gid: number;
  /** A file with an "oom_kill N" line (the memory cgroup's). */
  oomFile: string;
  /** Base host id of its user namespace; absent: none. */
  usernsBase?: number;
  /** Host files or directories bound into the container: read-only unless `readOnly` is false. */
  binds: { source: string; target: string; readOnly?: boolean }[];
  /** Cgroup dirs its process joins. */
  cgroups: string[];
  /** The network namespace it joins (else a new, empty one), and eth0's address when it sets it up. */
  net?: { netnsPath: string; address?: { cidr: string; gateway: string } };
  env: string[];
  cmd: string[];
}

/** The request as paas-run's argument list. */
export function runArgs(r: RunRequest): string[] {
  const flag = (name: string, v: string | number | undefined) => (v === undefined ? [] : [`--${name}`, String(v)]);
  return [
    ...flag("dir", r.dir),
    ...flag("rootfs", r.rootfs),
    ...(r.overlay ? [...flag("lower", r.overlay.lower), ...flag("upper", r.overlay.upper), ...flag("work", r.overlay.work)] : []),
    ...flag("hostname", r.hostname),
    ...flag("cwd", r.cwd),
    ...flag("uid", r.uid),
    ...flag("gid", r.gid),
    ...flag("oom-file", r.oomFile),
    ...flag("userns", r.usernsBase),
    ...r.binds.flatMap((b) => flag(b.readOnly === false ? "bind-rw" : "bind", `${b.source}:${b.target}`)),
    ...r.cgroups.flatMap((d) => flag("cgroup", d)),
    ...flag("netns", r.net?.netnsPath),
    ...flag("ip", r.net?.address?.cidr),
    ...flag("gw", r.net?.address?.gateway),
    ...r.env.flatMap((e) => flag("env", e)),
    "--",
    ...r.cmd,
  ];
}

interface Pending {
  resolve: (r: { status: string; data: string }) => void;
  reject: (e: Error) => void;
}

export class HelperServer {
  private proc?: ChildProcess;
  private pending = new Map<number, Pending>();
  private buf = Buffer.alloc(0);
  private nextId = 1;

  private ensure(): ChildProcess {
    if (this.proc) return this.proc;
    const p = spawn(helperPath(), ["serve"], { stdio: ["pipe", "pipe", "inherit"] });
    p.stdout!.on("data", (d: Buffer) => this.proc === p && this.onData(d));
    p.stdin!.on("error", () => {});
    p.on("error", (err) => this.fail(new RuntimeError(`the runtime helper failed: ${err.message}`)));
    p.on("exit", (code, sig) => {
      // a helper closed earlier: what waits now is the next one's (close() failed its own)
      if (this.proc !== p) return;
      this.proc = undefined;
      this.fail(new RuntimeError(`the runtime helper exited (${code ?? sig}); retry`));
    });
    p.unref();
    this.proc = p;
    this.setRef(false);
    return p;
  }

  /** Keeps the event loop alive only while an answer is awaited. */
  private setRef(on: boolean) {
    const p = this.proc;
    if (!p) return;
    for (const s of [p.stdin, p.stdout] as unknown as Socket[]) {
      if (on) s?.ref?.();
      else s?.unref?.();
    }
  }

  private fail(err: Error) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private onData(d: Buffer) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const [idS, status, lenS] = this.buf.subarray(0, nl).toString().split(" ");
      const len = Number(lenS);
      if (this.buf.length < nl + 1 + len) return;
      const data = this.buf.subarray(nl + 1, nl + 1 + len).toString();
      this.buf = this.buf.subarray(nl + 1 + len);
      const p = this.pending.get(Number(idS));
      this.pending.delete(Number(idS));
      if (this.pending.size === 0) this.setRef(false);
      p?.resolve({ status, data });
    }
  }

  private request(args: string[]): Promise<{ status: string; data: string }> {
    const p = this.ensure();
    const id = this.nextId++;
    const parts = [Buffer.from(`${id} ${args.length}\n`)];
    for (const a of args) {
      const b = Buffer.from(a);
      parts.push(Buffer.from(`${b.length}\n`), b);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.setRef(true);
      p.stdin!.write(Buffer.concat(parts));
    });
  }

  /** Starts a container (`paas-run run`): resolves with its host pid once its monitor is up. */
  async run(req: RunRequest): Promise<number> {
    const r = await this.request(["run", ...runArgs(req)]);
    if (r.status !== "ok") throw new RuntimeError(r.data || "the container did not start", 400);
    return Number(r.data);
  }

  /** Runs a command with `input` on its stdin; output is stdout and stderr together. */
  async exec(cmd: string, args: string[], input = ""): Promise<{ code: number; output: string }> {
    const r = await this.request(["exec", input, cmd, ...args]);
    return { code: Number(r.status), output: r.data };
  }

  close() {
    this.proc?.stdin?.end();
    this.proc = undefined;
    this.buf = Buffer.alloc(0);
    this.fail(new RuntimeError("the runtime helper was closed; retry"));
  }
}
