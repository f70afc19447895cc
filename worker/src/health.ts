/** Health checks: a replica is healthy once it answers HTTP on its port. */
import http from "node:http";

export function httpAnswers(address: string, timeoutMs = 2000): Promise<boolean> {
  const [host, port] = address.split(":");
  return new Promise((resolve) => {
    const req = http.get({ host, port: Number(port), path: "/", timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

/**
 * Waits until `address` answers, or `stillRunning()` says the process died,
 * or the deadline passes. Returns null when healthy, else the reason.
 */
export async function waitHealthy(
  address: string,
  stillRunning: () => Promise<boolean>,
  timeoutMs: number,
): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  // Most apps answer within a few seconds of starting: poll every 25 ms until then (a
  // refused connect costs well under a millisecond), every 250 ms after. Each poll missed is
  // push latency: a backoff from 20 ms polled at 414 and 641 ms, so an app ready at 420 ms
  // was seen ~220 ms late.
  const fastUntil = Date.now() + 3000;
  let nextLivenessCheck = Date.now() + 1000;
  while (Date.now() < deadline) {
    if (await httpAnswers(address)) return null;
    if (Date.now() >= nextLivenessCheck) {
      if (!(await stillRunning())) return "the process exited before answering on $PORT";
      nextLivenessCheck = Date.now() + 1000;
    }
    await new Promise((r) => setTimeout(r, Date.now() < fastUntil ? 25 : 250));
  }
  return `no answer on $PORT (${address}) within ${Math.round(timeoutMs / 1000)}s`;
}
