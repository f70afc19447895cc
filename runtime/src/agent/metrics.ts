/**
 * The host's figures for Prometheus (the platform's exporter, one per host: the cgroups and
 * veths it reads are only on this host, so the agent that owns them serves them; no process of
 * its own, nothing added at idle but the scrape itself).
 *
 *   GET /v1/metrics                  every app container's cgroup and network figures (text format)
 *   GET /v1/metrics/targets          Prometheus http_sd: one target per container that serves
 *                                    metrics of its own (label paas.metrics = "PORT/path")
 *   GET /v1/containers/:id/metrics   that container's own /metrics, fetched on the bridge
 *
 * Containers are those with a paas.app label (replicas and their sidecars; builds are left
 * out). Series carry app, process, replica, release, team and container labels, so Prometheus
 * (and /metrics/apps/APP in the web app) select an app's with {app="..."}.
 */
import http from "node:http";
import type { ContainerInfo } from "@paas/shared/agent-api";
import type { Runtime } from "../containers.ts";
import { RuntimeError } from "../util.ts";

/** The label a replica carries when it serves Prometheus metrics: "PORT/path", e.g. "5000/metrics". */
export const METRICS_LABEL = "paas.metrics";

interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  lines: string[];
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function seriesLabels(rt: Runtime, c: ContainerInfo): Record<string, string> {
  const l = c.labels;
  const out: Record<string, string> = { app: l["paas.app"] ?? "", process: l["paas.process"] ?? "", replica: l["paas.replica"] ?? "", release: l["paas.release"] ?? "", container: c.name };
  try {
    out.team = rt.teamOf(c.id);
  } catch {
    /* not placed under a team (no cgroupParent) */
  }
  if (l["paas.sidecar"]) {
    // A sidecar speaks for its replica (paas.replica "web.1"): the same process and replica labels as the replica's series.
    const m = /^(.+)\.(\d+)$/.exec(l["paas.replica"] ?? "");
    if (m) [out.process, out.replica] = [m[1]!, m[2]!];
    out.sidecar = l["paas.sidecar"];
  }
  return out;
}

const fmt = (labels: Record<string, string>) =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${esc(v)}"`)
    .join(",")}}`;

/** The running app containers of this host. */
const appContainers = (rt: Runtime) => rt.list().filter((c) => c.labels["paas.app"] && !c.labels["paas.build"] && (c.state === "running" || c.state === "paused"));

/** GET /v1/metrics: the Prometheus text format (version 0.0.4). */
export function renderHostMetrics(rt: Runtime): string {
  const fam = (name: string, type: Family["type"], help: string): Family => ({ name, type, help, lines: [] });
  const cpu = fam("paas_container_cpu_seconds_total", "counter", "CPU time the container's cgroup used.");
  const mem = fam("paas_container_memory_bytes", "gauge", "Memory the container's cgroup uses (page cache included).");
  const limit = fam("paas_container_memory_limit_bytes", "gauge", "The container's memory limit.");
  const pids = fam("paas_container_pids", "gauge", "Processes in the container's cgroup.");
  const oom = fam("paas_container_oom_kills_total", "counter", "Processes the kernel's OOM killer killed in the container's cgroup.");
  const restarts = fam("paas_container_restarts", "gauge", "Restarts the agent made by the container's restart policy.");
  const rx = fam("paas_container_network_receive_bytes_total", "counter", "Bytes the container's network namespace received.");
  const tx = fam("paas_container_network_transmit_bytes_total", "counter", "Bytes the container's network namespace sent.");
  for (const c of appContainers(rt)) {
    let s;
    try {
      s = rt.stats(c.id);
    } catch {
      continue; // removed since the list was read
    }
    const l = fmt(seriesLabels(rt, c));
    cpu.lines.push(`${cpu.name}${l} ${s.cpuUsageNs / 1e9}`);
    mem.lines.push(`${mem.name}${l} ${s.memoryBytes}`);
    if (s.memoryLimitBytes !== undefined) limit.lines.push(`${limit.name}${l} ${s.memoryLimitBytes}`);
    pids.lines.push(`${pids.name}${l} ${s.pids}`);
    oom.lines.push(`${oom.name}${l} ${s.oomKills ?? 0}`);
    restarts.lines.push(`${restarts.name}${l} ${c.restartCount ?? 0}`);
    // A pod member reports its pod's bytes: only the network's owner, so a sum counts them once.
    if (s.netRxBytes !== undefined && !c.networkOf) {
      rx.lines.push(`${rx.name}${l} ${s.netRxBytes}`);
      tx.lines.push(`${tx.name}${l} ${s.netTxBytes}`);
    }
  }
  return [cpu, mem, limit, pids, oom, restarts, rx, tx].map((f) => `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n${f.lines.map((x) => `${x}\n`).join("")}`).join("");
}

/** Where a container's own metrics are: its address on the bridge (or its pod's), port and path. */
function metricsEndpoint(rt: Runtime, c: ContainerInfo): { host: string; port: number; path: string } | undefined {
  const m = /^(\d{1,5})(\/\S*)$/.exec(c.labels[METRICS_LABEL] ?? "");
  if (!m) return undefined;
  const ip = c.ip ?? (c.networkOf ? rt.get(c.networkOf).ip : undefined);
  return ip ? { host: ip, port: Number(m[1]), path: m[2] } : undefined;
}

/**
 * GET /v1/metrics/targets: Prometheus's HTTP service discovery. `agentAddress` is the host:port
 * Prometheus reaches this agent at; each target is scraped through the agent (which reaches the
 * bridge) at /v1/containers/:id/metrics, with the replica's labels.
 */
export function metricsTargets(rt: Runtime, agentAddress: string): { targets: string[]; labels: Record<string, string> }[] {
  return appContainers(rt)
    .filter((c) => c.state === "running" && metricsEndpoint(rt, c))
    .map((c) => ({ targets: [agentAddress], labels: { ...seriesLabels(rt, c), __metrics_path__: `/v1/containers/${c.id}/metrics` } }));
}

const SCRAPE_TIMEOUT_MS = 5000;
const MAX_SCRAPE_BYTES = 8 << 20;

/** GET /v1/containers/:id/metrics: the container's own metrics, as it serves them. */
export function relayContainerMetrics(rt: Runtime, id: string, res: http.ServerResponse): Promise<void> {
  const c = rt.get(id);
  const ep = metricsEndpoint(rt, c);
  if (!ep) throw new RuntimeError(`container ${c.name} serves no metrics: it has no ${METRICS_LABEL} label ("PORT/path") or no address on the bridge`, 404);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ep.host, port: ep.port, path: ep.path, timeout: SCRAPE_TIMEOUT_MS, agent: false, headers: { accept: "text/plain;version=0.0.4" } }, (up) => {
      if ((up.statusCode ?? 0) !== 200) {
        up.resume();
        return reject(new RuntimeError(`container ${c.name} answered ${up.statusCode} for ${ep.path} on port ${ep.port}`, 502));
      }
      res.writeHead(200, { "content-type": up.headers["content-type"] ?? "text/plain; version=0.0.4" });
      let size = 0;
      up.on("data", (chunk: Buffer) => {
        size += chunk.length;
        // A runaway exporter is cut off rather than buffered without end.
        if (size > MAX_SCRAPE_BYTES) up.destroy(new Error("too large"));
        else res.write(chunk);
      });
      up.on("end", () => {
        res.end();
        resolve();
      });
      up.on("error", () => {
        res.destroy();
        resolve();
      });
    });
    req.on("timeout", () => req.destroy(new RuntimeError(`container ${c.name} did not answer ${ep.path} on port ${ep.port} within ${SCRAPE_TIMEOUT_MS / 1000} s`, 504)));
    req.on("error", (err) => reject(err instanceof RuntimeError ? err : new RuntimeError(`container ${c.name}: ${ep.path} on port ${ep.port}: ${err.message}`, 502)));
  });
}
