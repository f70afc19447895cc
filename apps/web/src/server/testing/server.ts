/**
 * Test support: the real dashboard/API server (`next start`) on its own port
 * and data dir. Builds once when apps/web/.next has no production build.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { repoRoot } from "./platform.ts";

export const webDir = path.join(repoRoot, "apps/web");
const nextBin = path.join(repoRoot, "node_modules/next/dist/bin/next");

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function ensureBuilt(): void {
  if (existsSync(path.join(webDir, ".next", "BUILD_ID"))) return;
  execFileSync(process.execPath, [nextBin, "build"], { cwd: webDir, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
}

export interface WebServer {
  url: string;
  port: number;
  output: () => string;
  stop: () => Promise<void>;
}

export async function startWeb(dataDir: string, port?: number): Promise<WebServer> {
  ensureBuilt();
  const p = port ?? (await freePort());
  let out = "";
  const child: ChildProcess = spawn(process.execPath, ["--import", path.join(webDir, "edge/preload.mjs"), nextBin, "start", "-p", String(p), "-H", "127.0.0.1"], {
    cwd: webDir,
    env: { ...process.env, PAAS_DATA_DIR: dataDir, PAAS_WEB_PORT: String(p), NEXT_TELEMETRY_DISABLED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${p}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`${url}/login`, { redirect: "manual" });
      if (res.status < 500) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`next start did not answer on ${url} within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port: p,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}
