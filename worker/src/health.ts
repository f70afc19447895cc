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
  // Most apps answer within a second of starting: poll often at first (a refused connect
  // costs well under a millisecond), then back off. Every poll saved is push latency.
  let delay = 20;
  let nextLivenessCheck = Date.now() + 1000;
  while (Date.now() < deadline) {
    if (await httpAnswers(address)) return null;
    if (Date.now() >= nextLivenessCheck) {
      if (!(await stillRunning())) return "the process exited before answering on $PORT";
      nextLivenessCheck = Date.now() + 1000;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.5, 250);
  }
  return `no answer on $PORT (${address}) within ${Math.round(timeoutMs / 1000)}s`;
}
