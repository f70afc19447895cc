/**
 * Debian's rsyslogd with a config of its own, for drain tests: imtcp on `port`, each message as
 * APP|PROCID|MSGID|SEVERITY|TIME|MSG in a file. Its queues are direct (the input's thread writes
 * each batch to the file before it reads on), so what rsyslog took from the socket is in the file
 * within moments; a kill (SIGKILL) then loses only what it had not handled yet, as in a crash.
 * It can be paused (SIGSTOP: it stops reading, as a hung server), killed and started again on the
 * same port and file.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { waitFor } from "./wait.ts";

export class Rsyslog {
  private proc: ChildProcess | null = null;
  readonly file: string;
  readonly work: string;

  constructor(readonly port: number) {
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), "paas-rsyslog-"));
    this.file = path.join(this.work, "drain.log");
  }

  async start(): Promise<void> {
    const conf = path.join(this.work, "rsyslog.conf");
    fs.writeFileSync(
      conf,
      [
        `global(workDirectory="${this.work}")`,
        `main_queue(queue.type="Direct")`,
        `module(load="imtcp")`,
        `template(name="drain" type="string" string="%app-name%|%procid%|%msgid%|%syslogseverity-text%|%timereported:::date-rfc3339%|%msg%\\n")`,
        `ruleset(name="drain") { action(type="omfile" file="${this.file}" template="drain") }`,
        `input(type="imtcp" address="127.0.0.1" port="${this.port}" ruleset="drain")`,
        "",
      ].join("\n"),
    );
    let output = "";
    const proc = spawn("rsyslogd", ["-n", "-f", conf, "-i", path.join(this.work, "rsyslogd.pid")], { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    proc.stdout!.on("data", (d) => (output += d));
    proc.stderr!.on("data", (d) => (output += d));
    await waitFor(
      () =>
        new Promise<boolean>((resolve, reject) => {
          if (proc.exitCode !== null) return reject(new Error(`rsyslogd exited (${proc.exitCode}): ${output}`));
          const s = net.connect(this.port, "127.0.0.1", () => (s.destroy(), resolve(true))).on("error", () => resolve(false));
        }),
      `rsyslogd listening on ${this.port}`,
      20_000,
      200,
    );
  }

  /** The file's lines, split into APP, PROCID, MSGID, SEVERITY, TIME, MSG. */
  lines(): string[][] {
    if (!fs.existsSync(this.file)) return [];
    return fs
      .readFileSync(this.file, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("|"));
  }

  /** Sends `signal` (SIGSTOP: it hangs; SIGKILL: it dies, and this waits until it is gone). */
  async signal(signal: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = signal === "SIGKILL" || signal === "SIGTERM" ? new Promise((r) => proc.once("exit", r)) : null;
    proc.kill(signal);
    await gone;
  }

  async stop(): Promise<void> {
    await this.signal("SIGKILL");
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}
