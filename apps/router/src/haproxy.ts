/**
 * The HAProxy process that forwards the bytes (Debian's haproxy, in master-worker mode) and its
 * runtime API. This module only runs it: what it is configured with is data-plane.ts's.
 *
 *   const hp = new HAProxy(files(dir), { onOutput, onExit });
 *   await hp.start();          // config and files written first; waits for the worker to answer
 *   await hp.command("set server app.x/r2 state ready");
 *   await hp.reload();         // a new worker on the new config; the old one finishes its requests
 *   await hp.stop();
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import type { files } from "./haproxy-config.ts";

type Files = ReturnType<typeof files>;
// Debian puts it in /usr/sbin, which a service's PATH may lack.
const BIN = fs.existsSync("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "haproxy";

export interface HAProxyEvents {
  /** What HAProxy prints on stdout (access log lines, server state changes), in chunks as they come. */
  onOutput(chunk: string): void;
  /** HAProxy's master exited without stop() being called. */
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
}

export class HAProxy {
  private proc?: ChildProcess;
  private stopping = false;

  constructor(
    private readonly f: Files,
    private readonly events: HAProxyEvents,
  ) {}

  /** Refuses a config HAProxy would not load, with HAProxy's own words. */
  check(): void {
    const r = spawnSync(BIN, ["-c", "-q", "-f", this.f.config], { encoding: "utf8" });
    if (r.error) throw new Error(`cannot run haproxy (${r.error.message}); ./infra/setup installs Debian's haproxy`);
    if (r.status !== 0) throw new Error(`haproxy refused its configuration ${this.f.config}: ${(r.stderr || r.stdout).trim()}`);
  }

  async start(): Promise<void> {
    this.check();
    const stale = this.stale(); // before ours overwrites the pid file
    fs.rmSync(this.f.socket, { force: true });
    // TZ=UTC: the access log's times (%tr) are HAProxy's local time.
    const proc = spawn(BIN, ["-W", "-db", "-f", this.f.config, "-p", this.f.pid], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, TZ: "UTC" } });
    this.proc = proc;
    proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => this.events.onOutput(chunk));
    proc.on("exit", (code, signal) => {
      if (!this.stopping) this.events.onExit(code, signal);
    });
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => reject(new Error(`haproxy exited (${code}) while starting; its messages are above`))),
    );
    exited.catch(() => {});
    await Promise.race([this.workerPid(), exited]);
    if (stale) this.retire(stale);
  }

  /** A new worker on the config as written now; resolves once that worker answers. */
  async reload(): Promise<void> {
    this.check();
    const before = await this.workerPid();
    this.proc!.kill("SIGUSR2");
    const deadline = Date.now() + 10_000;
    while ((await this.workerPid()) === before) {
      if (Date.now() > deadline) throw new Error("haproxy did not start a new worker within 10 s of a reload; its messages are above");
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** One runtime API command; HAProxy's answer, refused when it reports an error. */
  async command(cmd: string): Promise<string> {
    const out = await this.ask(cmd);
    if (/^(Unknown command|No such|Require|Invalid|.*not found|.*error)/im.test(out)) throw new Error(`haproxy refused "${cmd}": ${out.trim()}`);
    return out;
  }

  /**
   * A runtime API command whose answer must match `ok` (the SSL commands answer failures in
   * words of their own). Only the command's first line is ever quoted: a payload may hold a key.
   */
  async expect(cmd: string, ok: RegExp): Promise<string> {
    const out = await this.ask(cmd);
    if (!ok.test(out)) throw new Error(`haproxy refused "${cmd.split("\n")[0]}": ${out.trim()}`);
    return out;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGUSR1"); // soft stop: requests in flight finish
    const hard = setTimeout(() => p.kill("SIGTERM"), 5000);
    await gone;
    clearTimeout(hard);
  }

  /** One runtime API command and its answer, whatever it says. */
  ask(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const c = net.connect(this.f.socket);
      let out = "";
      c.setEncoding("utf8");
      c.on("data", (d) => (out += d));
      c.on("end", () => resolve(out));
      c.on("error", reject);
      c.write(`${cmd}\n`);
    });
  }

  /** The current worker's pid, waiting (up to 10 s) for one to answer on the admin socket. */
  private async workerPid(): Promise<number> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const pid = Number(/^Pid: (\d+)/m.exec(await this.ask("show info"))?.[1]);
        if (pid) return pid;
      } catch {}
      if (Date.now() > deadline) throw new Error(`haproxy did not answer on ${this.f.socket} within 10 s; its messages are above`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * A router that was killed leaves its HAProxy running on the port: the one named by our pid
   * file, if it still runs our config. It serves on while ours starts beside it (both bind the
   * port with SO_REUSEPORT, HAProxy's default), so no connection is refused meanwhile.
   */
  private stale(): number | undefined {
    try {
      const pid = Number(fs.readFileSync(this.f.pid, "utf8").trim());
      return this.runsOurConfig(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Soft-stops the stale HAProxy once ours serves: its requests in flight finish; killed after 10 s. */
  private retire(pid: number): void {
    const signal = (s: NodeJS.Signals) => {
      // the check: by then the pid may be another process's
      try {
        if (this.runsOurConfig(pid)) process.kill(pid, s);
      } catch {} // gone meanwhile
    };
    signal("SIGUSR1");
    setTimeout(() => signal("SIGKILL"), 10_000).unref();
  }

  private runsOurConfig(pid: number): boolean {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(this.f.config);
    } catch {
      return false;
    }
  }
}
