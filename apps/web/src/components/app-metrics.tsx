"use client";
/**
 * The app's charts: requests, p50/p99 latency, errors, CPU and memory per replica, from
 * Prometheus through metrics.app (server/metrics/charts.ts), redrawn every 15 s. uPlot: ~50 KB,
 * canvas, no React dependency of its own (so no peer clash with React 19), loaded in the
 * browser only.
 */
import { TRPCClientError } from "@trpc/client";
import { useEffect, useRef, useState } from "react";
import type uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { trpc } from "@/lib/trpc-client.ts";
import type { AppCharts, Chart } from "@/server/metrics/charts.ts";

const REFRESH_MS = 15_000;
const WINDOWS = [15, 60, 360, 1440] as const;
const COLOURS = ["#4f46e5", "#059669", "#d97706", "#dc2626", "#0891b2", "#7c3aed", "#db2777", "#65a30d"];

type Unit = "rps" | "ms" | "cores" | "bytes";

function fmt(v: number | null, unit: Unit): string {
  if (v === null || v === undefined) return "–";
  if (unit === "bytes") {
    const mb = v / 2 ** 20;
    return mb >= 1024 ? `${(mb / 1024).toFixed(2)} GB` : `${mb.toFixed(mb < 10 ? 1 : 0)} MB`;
  }
  if (unit === "ms") return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ms`;
  if (unit === "cores") return `${(v * 100).toFixed(v < 0.1 ? 1 : 0)} %`;
  return `${v < 10 ? v.toFixed(2) : v.toFixed(0)}/s`;
}

function Plot({ title, chart, unit }: { title: string; chart: Chart; unit: Unit }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const hasData = chart.series.some((s) => s.values.some((v) => v !== null));

  useEffect(() => {
    let gone = false;
    const el = box.current;
    if (!el || !hasData) return;
    void import("uplot").then(({ default: UPlot }) => {
      if (gone) return;
      plot.current?.destroy();
      const opts: uPlot.Options = {
        width: Math.max(240, el.clientWidth),
        height: 160,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { y: { range: (_u, min, max) => [0, Math.max(max, min + 1e-9) * 1.1] } },
        axes: [{ stroke: "#64748b", size: 30 }, { stroke: "#64748b", size: 60, values: (_u, ticks) => ticks.map((t) => fmt(t, unit)) }],
        series: [{}, ...chart.series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: false, value: (_u: uPlot, v: number | null) => fmt(v, unit) }))],
      };
      const data = [chart.timestamps, ...chart.series.map((s) => s.values)] as uPlot.AlignedData;
      plot.current = new UPlot(opts, data, el);
    });
    return () => {
      gone = true;
      plot.current?.destroy();
      plot.current = null;
    };
  }, [chart, unit, hasData]);

  // The latest value of each series, readable without hovering the chart.
  const latest = chart.series
    .map((s) => ({ label: s.label, v: [...s.values].reverse().find((v) => v !== null) ?? null }))
    .filter((x) => x.v !== null)
    .map((x) => `${x.label} ${fmt(x.v, unit)}`)
    .join(" · ");

  return (
    <div className="min-w-0 rounded-lg border border-slate-200 p-3" data-chart={title}>
      <h3 className="text-xs font-medium uppercase tracking-wide text-slate-500">{title}</h3>
      <p className="mb-2 truncate text-xs text-slate-600" data-testid="chart-latest" title={latest}>
        {latest || "\u00a0"}
      </p>
      {hasData ? <div ref={box} className="w-full" /> : <p className="py-12 text-center text-xs text-slate-400">No data in this window yet.</p>}
    </div>
  );
}

export function AppMetrics({ app }: { app: string }) {
  const [minutes, setMinutes] = useState<number>(60);
  const [charts, setCharts] = useState<AppCharts | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    const load = () =>
      trpc.metrics.app
        .query({ app, minutes })
        .then((c) => {
          if (stopped) return;
          setCharts(c);
          setError(null);
        })
        .catch((err: unknown) => {
          if (!stopped) setError(err instanceof TRPCClientError ? err.message : String(err));
        });
    void load();
    const id = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(id);
    };
  }, [app, minutes]);

  return (
    <section className="mt-6 rounded-xl bg-white shadow-sm ring-1 ring-slate-200" data-testid="app-metrics">
      <div className="flex items-center justify-between border-b border-slate-100 px-4 py-3">
        <h2 className="text-sm font-semibold text-slate-900">Metrics</h2>
        <div className="flex gap-1 text-xs">
          {WINDOWS.map((m) => (
            <button key={m} type="button" onClick={() => setMinutes(m)} className={`rounded px-2 py-1 ${m === minutes ? "bg-indigo-600 text-white" : "text-slate-600 hover:bg-slate-100"}`}>
              {m < 60 ? `${m}m` : `${m / 60}h`}
            </button>
          ))}
        </div>
      </div>
      {error ? <p className="px-4 py-3 text-sm text-red-600">Metrics are not available: {error}</p> : null}
      {charts ? (
        <div className="grid gap-4 p-4 md:grid-cols-2 xl:grid-cols-3">
          <Plot title="Requests" chart={charts.requests} unit="rps" />
          <Plot title="Latency p50 / p99" chart={charts.latency} unit="ms" />
          <Plot title="Errors (5xx)" chart={charts.errors} unit="rps" />
          <Plot title="CPU per replica" chart={charts.cpu} unit="cores" />
          <Plot title="Memory per replica" chart={charts.memory} unit="bytes" />
        </div>
      ) : !error ? (
        <p className="px-4 py-6 text-sm text-slate-400">Loading metrics…</p>
      ) : null}
    </section>
  );
}
