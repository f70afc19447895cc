/**
 * The credential a worker shows the web app's internal API (a build's source):
 * $PAAS_WORKER_TOKEN, else the `worker-token` file in the data dir, made by
 * whichever of the two asks first. A worker with a data dir of its own (on
 * another host) is given the web app's token in PAAS_WORKER_TOKEN. It is never
 * a pusher's or a user's token.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { config } from "./config.ts";

export const WORKER_TOKEN_HEADER = "x-paas-worker-token";

export function workerToken(env: NodeJS.ProcessEnv = process.env, dataDir = config().dataDir): string {
  if (env.PAAS_WORKER_TOKEN) return env.PAAS_WORKER_TOKEN;
  const file = path.join(dataDir, "worker-token");
  try {
    writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
  } catch (err) {
    // Made already (by the other side, or by a process racing us): that one is the token.
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return readFileSync(file, "utf8").trim();
}

/** Whether `presented` is the worker token (compared in constant time). */
export function isWorkerToken(presented: string | null, expected = workerToken()): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
