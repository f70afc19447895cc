/**
 * The host agent: `npx tsx runtime/src/agent/main.ts`. Listens on PAAS_AGENT_HOST:PAAS_AGENT_PORT
 * (127.0.0.1:3101 by default), requiring PAAS_AGENT_TOKEN as a bearer token when it is set (it
 * must be set off loopback: config.ts refuses otherwise).
 * At start: bridge + NAT up, stacks built if missing, containers that still run are
 * re-adopted (their monitors hold them; state is read from disk). Also serves the operator
 * CLI on a unix socket (cli-socket.ts), and says where its HTTP API is beside it
 * (agent-lookup.ts: the CLI's caller-side commands dial it). SIGTERM closes the servers and exits, leaving
 * containers running.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { config } from "@paas/shared";
import { publishAgent, unpublishAgent } from "../agent-lookup.ts";
import { Runtime } from "../containers.ts";
import { Layout } from "../paths.ts";
import { Supervisor } from "../restart.ts";
import { helperPath } from "../util.ts";
import { LogShipper } from "../logship.ts";
import { listenCliSocket } from "./cli-socket.ts";
import { createAgentServer } from "./server.ts";

let cfg: ReturnType<typeof config>;
try {
  cfg = config();
} catch (err) {
  console.error(`agent: ${(err as Error).message}`);
  process.exit(1);
}
const t0 = Date.now();
// The helper is built from source (gcc) when missing or older than its source: fast, idempotent.
const build = spawnSync(path.resolve(import.meta.dirname, "../../native/build.sh"), { stdio: "inherit" });
if (build.status !== 0 && !process.env.PAAS_RUNTIME_HELPER) {
  console.error("agent: building the runtime helper failed (runtime/native/build.sh needs gcc: apt-get install -y gcc)");
  process.exit(1);
}
helperPath(); // fail early with the build hint
const rt = new Runtime({ dataDir: cfg.dataDir, bridge: cfg.bridge, subnet: cfg.subnet, cgroupRoot: cfg.cgroupRoot });
await rt.init();
await rt.images.ensureStacks((m) => console.log(`agent: ${m}`));
const running = rt.list().filter((c) => c.state === "running");
// Restart policies, and prompt clean-up of containers that exit.
new Supervisor(rt, { log: (m) => console.error(`agent: ${m}`) }).start();
// App replicas' output into their apps' log streams in Redis (PAAS_LOGSHIP=0: a bare runtime host).
if (process.env.PAAS_LOGSHIP !== "0") new LogShipper(rt, new Layout(cfg.dataDir), { redisUrl: cfg.redisUrl, log: (m) => console.error(`agent: ${m}`) }).start();
const server = createAgentServer(rt, { token: cfg.agentToken });
let cliServer: ReturnType<typeof listenCliSocket>;
const layout = new Layout(cfg.dataDir);
server.listen(cfg.agentPort, cfg.agentHost, () => {
  // after the port: a second agent on this data dir fails there, not by taking the socket over
  try {
    cliServer = listenCliSocket(rt);
  } catch (err) {
    console.error(`agent: ${(err as Error).message}`);
    process.exit(1);
  }
  // where the CLI on this host reaches the HTTP API (agent-lookup.ts)
  const port = (server.address() as import("node:net").AddressInfo).port;
  const host = cfg.agentHost === "0.0.0.0" || cfg.agentHost === "::" ? "127.0.0.1" : cfg.agentHost;
  publishAgent(layout, { pid: process.pid, url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`, ...(cfg.agentToken ? { token: cfg.agentToken } : {}) });
  console.log(
    `agent: listening on http://${cfg.agentHost}:${cfg.agentPort}${cfg.agentToken ? " (token required)" : ""} (data ${cfg.dataDir}, bridge ${cfg.bridge} ${cfg.subnet}, cgroup ${rt.cgroupDriver} /${cfg.cgroupRoot}; ${running.length} running container(s) adopted; ready in ${Date.now() - t0} ms)`,
  );
});
server.on("error", (err) => {
  console.error(`agent: cannot listen on ${cfg.agentHost}:${cfg.agentPort}: ${err.message}; is another agent running, or is the address not this machine's? (PAAS_AGENT_HOST, PAAS_AGENT_PORT)`);
  process.exit(1);
});
const shutdown = () => {
  console.log("agent: stopping (containers keep running)");
  if (cliServer) {
    fs.rmSync(rt.cliSocket, { force: true });
    unpublishAgent(layout);
    cliServer.close();
  }
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
