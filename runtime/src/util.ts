/** Small helpers shared by the runtime's modules: process spawning, file locks, JSON files. */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { type RequestSchema, parseOrThrow } from "@paas/shared/agent-api";

export class RuntimeError extends Error {
  constructor(
    message: string,
    /** HTTP status the agent answers with. */
    readonly status = 500,
  ) {
    super(message);
    this.name = "RuntimeError";
  }
}

/**
 * A caller's value parsed with the agent contract's schema (the one place each rule lives): a
 * 400 naming the wrong field otherwise, for in-process callers as for the agent's.
 */
export function parseInput<S extends RequestSchema>(schema: S, value: unknown, where: string) {
  return parseOrThrow(schema, value, where, (message) => new RuntimeError(message, 400));
}

/** Runs a command; resolves with its output, rejects with its stderr when it fails. */
export function run(cmd: string, args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout!.on("data", (d) => (stdout += d));
    p.stderr!.on("data", (d) => (stderr += d));
    p.on("error", (err) => reject(new RuntimeError(`cannot run ${cmd}: ${err.message}; is it installed?`)));
    p.on("close", (code) => resolve({ stdout, stderr, code: code ?? 1 }));
    if (p.stdin) {
      p.stdin.on("error", () => {}); // a command that exits before reading: its exit code tells
      p.stdin.end(input);
    }
  });
}

export async function runOk(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) throw new RuntimeError(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/**
 * Installs Debian packages the runtime needs but found missing (one apt at a time on the
 * host); fails saying what they are for and the command to run by hand.
 */
export async function aptInstall(packages: string[], why: string): Promise<void> {
  const list = packages.join(" ");
  const r = await run("sh", ["-c", `flock /tmp/apt.lock apt-get install -y ${list}`]);
  if (r.code !== 0) throw new RuntimeError(`${why} and could not be installed (${r.stderr.trim().split("\n").pop()}); run: apt-get install -y ${list}`);
}

export function runSyncOk(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) throw new RuntimeError(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new RuntimeError(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Writes JSON atomically (tmp + rename), so a crash never leaves half a file. */
export function writeJson(file: string, data: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 2));
  fs.renameSync(tmp, file);
}

const sleepBuf = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number) {
  Atomics.wait(sleepBuf, 0, 0, ms);
}

/**
 * A lock file shared by every process using the same data dir (agent, CLI, tests).
 * Held only for short synchronous critical sections; a lock older than 30 s is stale.
 */
export function withFileLock<T>(lockFile: string, fn: () => T): T {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      try {
        const st = fs.statSync(lockFile);
        if (Date.now() - st.mtimeMs > 30_000) fs.rmSync(lockFile, { force: true });
      } catch {}
      if (Date.now() > deadline) throw new RuntimeError(`lock ${lockFile} is held by another process; remove it if none runs`);
      sleepSync(5);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lockFile, { force: true });
  }
}

export function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}

export function exists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Path of the C helper; built by runtime/native/build.sh. */
export function helperPath(): string {
  const p = process.env.PAAS_RUNTIME_HELPER || path.resolve(import.meta.dirname, "../native/build/paas-run");
  if (!exists(p)) {
    throw new RuntimeError(`the runtime helper ${p} is missing; build it with runtime/native/build.sh`);
  }
  return p;
}
