/**
 * One long-lived `paas-run serve` process per runtime. Process creation is the cost of a
 * container start (a spawn from node forks a large process: 10-30 ms here), so starts
 * and the few commands they need (`ip -batch`, iptables) are forked by this small
 * process instead. Monitors it starts are detached (setsid) and outlive it; it exits
 * when its stdin closes (when this process exits).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";
import { RuntimeError, helperPath } from "./util.ts";

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

  request(args: string[]): Promise<{ status: string; data: string }> {
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

  /** `paas-run run ARGS`: resolves with the container's host pid. */
  async run(args: string[]): Promise<number> {
    const r = await this.request(["run", ...args]);
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

let shared: HelperServer | undefined;
export function helperServer(): HelperServer {
  shared ??= new HelperServer();
  return shared;
}
