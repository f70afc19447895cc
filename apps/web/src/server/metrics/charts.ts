/**
 * The dashboard's charts of an app, from Prometheus's query API: requests per second by status
 * class, p50/p99 latency (the router's histogram), errors (5xx per second), and CPU and memory
 * per replica (the agent's cgroup figures). Every chart shares one time grid (start + k*step)
 * so the browser draws it as it comes; a missing sample is null (a gap, not a zero).
 */
import { queryRange, type RangeSeries } from "./prometheus.ts";

export interface Chart {
  /** unix seconds */
  timestamps: number[];
  series: { label: string; values: (number | null)[] }[];
}

export interface AppCharts {
  minutes: number;
  step: number;
  requests: Chart;
  latency: Chart;
  errors: Chart;
  cpu: Chart;
  memory: Chart;
}

/** The step for a window: ~120 points, never below the 10 s scrape interval. */
export const stepFor = (minutes: number) => Math.max(10, Math.round((minutes * 60) / 120 / 10) * 10);

function onGrid(grid: number[], series: RangeSeries[], label: (l: Record<string, string>) => string): Chart {
  const index = new Map(grid.map((t, i) => [t, i]));
  return {
    timestamps: grid,
    series: series
      .map((s) => {
        const values: (number | null)[] = grid.map(() => null);
        for (const [t, v] of s.values) {
          const i = index.get(t);
          if (i !== undefined && Number.isFinite(v)) values[i] = v;
        }
        return { label: label(s.labels), values };
      })
      .sort((a, b) => a.label.localeCompare(b.label)),
  };
}

/**
 * A series' name on the CPU and memory charts: the replica's ("web.1", "web.1 (logging)");
 * a container of the app that is no replica (a one-off run, a backup's job) has no process
 * label (Prometheus drops empty ones): its container's name.
 */
export const replicaLabel = (l: Record<string, string>) =>
  l.process && l.replica ? `${l.process}.${l.replica}${l.sidecar ? ` (${l.sidecar})` : ""}` : (l.container ?? "other");

export async function appCharts(app: string, minutes: number, now = Date.now()): Promise<AppCharts> {
  const step = stepFor(minutes);
  // Aligned to the step, so two loads a few seconds apart draw the same points.
  const end = Math.floor(now / 1000 / step) * step;
  const start = end - minutes * 60;
  const grid: number[] = [];
  for (let t = start; t <= end; t += step) grid.push(t);
  const sel = `app="${app}"`;
  // rate() needs two samples in its window: at least 4 scrapes' worth.
  const w = `${Math.max(step * 2, 40)}s`;
  const q = (expr: string) => queryRange(expr, start, end, step);
  const [requests, p50, p99, errors, cpu, memory] = await Promise.all([
    q(`sum by (code) (rate(paas_router_requests_total{${sel}}[${w}]))`),
    q(`histogram_quantile(0.5, sum by (le) (rate(paas_router_request_duration_seconds_bucket{${sel}}[${w}])))`),
    q(`histogram_quantile(0.99, sum by (le) (rate(paas_router_request_duration_seconds_bucket{${sel}}[${w}])))`),
    q(`sum(rate(paas_router_requests_total{${sel},code="5xx"}[${w}]))`),
    q(`rate(paas_container_cpu_seconds_total{${sel}}[${w}])`),
    q(`paas_container_memory_bytes{${sel}}`),
  ]);
  const latency = onGrid(grid, [...p50.map((s) => ({ ...s, labels: { q: "p50" } })), ...p99.map((s) => ({ ...s, labels: { q: "p99" } }))], (l) => l.q);
  // Seconds -> ms, as people read latency.
  for (const s of latency.series) s.values = s.values.map((v) => (v === null ? null : v * 1000));
  return {
    minutes,
    step,
    requests: onGrid(grid, requests, (l) => l.code ?? "all"),
    latency,
    errors: onGrid(grid, errors, () => "5xx"),
    cpu: onGrid(grid, cpu, replicaLabel),
    memory: onGrid(grid, memory, replicaLabel),
  };
}
