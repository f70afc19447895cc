/**
 * Health checks of a container's HTTP answer, made from the agent's side of the bridge (the
 * worker may run on another host and cannot dial a bridge address): a container is healthy
 * once anything answers HTTP on its port.
 */
import http from "node:http";
import type { HealthCheckResult } from "@paas/shared/agent-api";

/** True when `host:port` answers an HTTP GET / with any status within `timeoutMs`. */
export function httpAnswers(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: "/", timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

/**
 * Polls until the container answers, its process is gone, `timeoutMs` passes or `signal` aborts.
 * Most apps answer within a few seconds of starting: poll every 25 ms until then (a refused
 * connect costs well under a millisecond), every 250 ms after. Each poll missed is push
 * latency: a backoff from 20 ms polled at 414 and 641 ms, so an app ready at 420 ms was seen
 * ~220 ms late. The process is looked at after each miss, so an exit is reported at once.
 */
export async function waitHealthy(
  address: { host: string; port: number },
  exited: () => { exitCode?: number } | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<HealthCheckResult> {
  const t0 = Date.now();
  const deadline = t0 + timeoutMs;
  const fastUntil = t0 + 3000;
  while (!signal?.aborted) {
    if (await httpAnswers(address.host, address.port)) return { healthy: true, afterMs: Date.now() - t0 };
    const gone = exited();
    if (gone) return { healthy: false, reason: "exited", exitCode: gone.exitCode, afterMs: Date.now() - t0 };
    const now = Date.now();
    if (now >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(now < fastUntil ? 25 : 250, deadline - now)));
  }
  return { healthy: false, reason: "timeout", afterMs: Date.now() - t0 };
}
