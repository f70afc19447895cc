/**
 * Health checks of a container's HTTP answer, made from the agent's side of the bridge (the
 * worker may run on another host and cannot dial a bridge address): a container is healthy
 * once anything answers HTTP on its port and then each check the app declared (a path, an
 * expected status or content, attempts: Dokku's CHECKS) passes.
 */
import http from "node:http";
import type { HealthCheckResult, HttpCheck } from "@paas/shared/agent-api";

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

/** What a check reads of a body: enough for any sensible "expected content", bounded. */
const MAX_BODY_BYTES = 1 << 20;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/** One attempt of `check` against `host:port`: null when it passed, else what it got, in the pusher's words. */
export function attemptCheck(host: string, port: number, check: HttpCheck): Promise<string | null> {
  const what = `GET ${check.path}`;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (problem: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(problem);
    };
    // The whole answer (headers and the body read) within the attempt's time.
    const timer = setTimeout(() => finish(`${what} did not answer within ${seconds(check.timeoutMs)}`), check.timeoutMs);
    const req = http.get(
      { host, port, path: check.path, agent: false, headers: { host: check.host ?? "localhost", "user-agent": "paas-check", accept: "*/*" } },
      (res) => {
        const status = res.statusCode ?? 0;
        const statusOk = check.status === undefined ? status >= 200 && status < 400 : status === check.status;
        if (!statusOk) return finish(`${what} answered ${status}, expected ${check.status ?? "2xx or 3xx"}`);
        if (check.content === undefined) return finish(null);
        const chunks: Buffer[] = [];
        let size = 0;
        const judge = () => {
          const body = Buffer.concat(chunks).toString("utf8");
          finish(body.includes(check.content!) ? null : `${what} answered ${status} but the content did not contain '${check.content}'`);
        };
        res.on("data", (c: Buffer) => {
          if (size >= MAX_BODY_BYTES) return;
          chunks.push(c);
          size += c.length;
          if (size >= MAX_BODY_BYTES) judge();
        });
        res.on("end", judge);
        res.on("error", (err) => finish(`${what}: the answer broke off (${err.message})`));
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) =>
      finish(`${what}: ${err.code === "ECONNREFUSED" ? "connection refused" : err.code === "ECONNRESET" ? "connection reset" : err.message}`),
    );
  });
}

const seconds = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`);

/**
 * Polls until the container answers, its process is gone, `timeoutMs` passes or `signal` aborts;
 * then runs `checks` in turn, each up to its attempts.
 * Most apps answer within a few seconds of starting: poll every 25 ms until then (a refused
 * connect costs well under a millisecond), every 250 ms after. Each poll missed is push
 * latency: a backoff from 20 ms polled at 414 and 641 ms, so an app ready at 420 ms was seen
 * ~220 ms late. The process is looked at after each miss, so an exit is reported at once.
 * Waiting for the port first is why a declared check adds no wait to a fast app (Dokku waits
 * WAIT seconds before each attempt): its attempts are spent on answers, not on the boot.
 */
export async function waitHealthy(
  address: { host: string; port: number },
  exited: () => { exitCode?: number } | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
  checks: HttpCheck[] = [],
): Promise<HealthCheckResult> {
  const t0 = Date.now();
  const deadline = t0 + timeoutMs;
  const fastUntil = t0 + 3000;
  const gone = (): HealthCheckResult | undefined => {
    const e = exited();
    return e ? { healthy: false, reason: "exited", exitCode: e.exitCode, afterMs: Date.now() - t0 } : undefined;
  };
  let answered = false;
  while (!signal?.aborted) {
    if (await httpAnswers(address.host, address.port)) {
      answered = true;
      break;
    }
    const g = gone();
    if (g) return g;
    const now = Date.now();
    if (now >= deadline) break;
    await sleep(Math.min(now < fastUntil ? 25 : 250, deadline - now), signal);
  }
  if (!answered) return { healthy: false, reason: "timeout", afterMs: Date.now() - t0 };

  for (const check of checks) {
    await sleep(t0 + check.initialDelayMs - Date.now(), signal);
    let problem: string | null = null;
    for (let attempt = 1; attempt <= check.attempts && !signal?.aborted; attempt++) {
      problem = await attemptCheck(address.host, address.port, check);
      if (problem === null) break;
      const g = gone();
      if (g) return g;
      if (attempt < check.attempts) await sleep(check.waitMs, signal);
    }
    if (signal?.aborted) break;
    if (problem !== null) return { healthy: false, reason: "check", problem, attempts: check.attempts, afterMs: Date.now() - t0 };
  }
  if (signal?.aborted) return { healthy: false, reason: "timeout", afterMs: Date.now() - t0 };
  return { healthy: true, afterMs: Date.now() - t0 };
}
