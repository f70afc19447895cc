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
  let checks = 0;
  while (Date.now() < deadline) {
    if (await httpAnswers(address)) return null;
    if (++checks % 5 === 0 && !(await stillRunning())) return "the process exited before answering on $PORT";
    await new Promise((r) => setTimeout(r, 200));
  }
  return `no answer on $PORT (${address}) within ${Math.round(timeoutMs / 1000)}s`;
}
