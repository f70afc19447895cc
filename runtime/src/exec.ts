/**
 * A command run in a running container (`docker exec`): the helper's `paas-run exec` joins
 * the container's cgroups and namespaces and makes the same cuts as its init (capabilities,
 * no_new_privs, seccomp); with a TTY it also opens a terminal of the container's own devpts
 * and relays it (native/paas-run/exec.c).
 *
 * Use (Runtime.exec does the first step):
 *   const p = startExec(target, { cmd: ["sh"], tty: true, size: { rows: 24, cols: 80 } });
 *   caller.pipe(p.stdin); p.stdout.pipe(caller);
 *   p.resize(40, 120);                     // the command gets SIGWINCH
 *   const code = await p.exit;             // 128+N when signal N ended it
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import type { Readable, Writable } from "node:stream";
import type { ExecProcess, ExecRequest } from "@paas/shared/agent-api";
import { helperPath } from "./util.ts";

/** What entering a running container takes: its init, user, workdir and cgroups. */
export interface ExecTarget {
  pid: number;
  uid: number;
  gid: number;
  workdir: string;
  cgroupDirs: string[];
}

export function startExec(t: ExecTarget, req: ExecRequest): ExecProcess {
  // The init's environment (image + spec env), then the request's on top.
  const env: Record<string, string> = {};
  for (const kv of fs.readFileSync(`/proc/${t.pid}/environ`, "utf8").split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  Object.assign(env, req.env);
  const uid = req.user?.uid ?? t.uid;
  const gid = req.user?.gid ?? t.gid;
  const args = ["exec", "--pid", String(t.pid), "--uid", String(uid), "--gid", String(gid), "--cwd", req.workdir ?? t.workdir];
  if (req.tty) args.push("--tty", "1");
  for (const d of t.cgroupDirs) args.push("--cgroup", d);
  for (const [k, v] of Object.entries(env)) args.push("--env", `${k}=${v}`);
  // fd 3: the window-size channel ("ROWS COLS\n" lines), with a TTY only
  const p = spawn(helperPath(), [...args, "--", ...req.cmd], { stdio: ["pipe", "pipe", "pipe", ...(req.tty ? ["pipe" as const] : [])] });
  const ctl = req.tty ? (p.stdio[3] as Writable) : undefined;
  ctl?.on("error", () => {});
  p.stdin.on("error", () => {}); // a command that exits without reading its input
  const resize = (rows: number, cols: number) => void ctl?.write(`${rows} ${cols}\n`);
  if (req.size) resize(req.size.rows, req.size.cols);
  const exit = new Promise<number>((resolve) => {
    p.on("error", () => resolve(126));
    p.on("close", (code, sig) => {
      ctl?.destroy();
      resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0));
    });
  });
  // The helper's death closes the terminal's master: the command's session gets SIGHUP.
  const abort = () => void (p.exitCode === null && p.signalCode === null && p.kill("SIGKILL"));
  return { stdin: p.stdin, stdout: p.stdout as Readable, stderr: p.stderr as Readable, resize, abort, exit };
}
