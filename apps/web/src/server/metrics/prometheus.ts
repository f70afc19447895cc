/**
 * The platform's Prometheus (infra/run-service prometheus, on loopback at config().prometheusUrl):
 * federation for the text-format endpoints, query_range for the dashboard's charts.
 * Series are selected by the app label that the platform's exporters set (the agent, the
 * router, and the target labels of an app's own metrics, which override any the app sets).
 */
import { config } from "@paas/shared";

export class PrometheusError extends Error {}

const TIMEOUT_MS = 10_000;

async function get(pathAndQuery: string): Promise<Response> {
  const url = `${config().prometheusUrl}${pathAndQuery}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new PrometheusError(`Prometheus at ${config().prometheusUrl} did not answer (${(err as Error).message}); is it running? ./infra/status shows it`);
  }
  if (!res.ok) throw new PrometheusError(`Prometheus answered ${res.status} for ${pathAndQuery.split("?")[0]}: ${(await res.text()).slice(0, 300)}`);
  return res;
}

/** The latest sample of every series that matches, in the Prometheus text format (/federate). */
export async function federate(matchers: string[]): Promise<string> {
  const q = matchers.map((m) => `match[]=${encodeURIComponent(m)}`).join("&");
  return (await get(`/federate?${q}`)).text();
}

export interface RangeSeries {
  labels: Record<string, string>;
  /** [unix seconds, value] */
  values: [number, number][];
}

/** A range query: every series of `expr` from start to end (unix seconds) at `step` seconds. */
export async function queryRange(expr: string, start: number, end: number, step: number): Promise<RangeSeries[]> {
  const q = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
  const body = (await (await get(`/api/v1/query_range?${q}`)).json()) as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; values: [number, string][] }[] };
  };
  if (body.status !== "success" || !body.data) throw new PrometheusError(`Prometheus could not run "${expr}": ${body.error ?? body.status}`);
  return body.data.result.map((r) => ({ labels: r.metric, values: r.values.map(([t, v]) => [t, Number(v)]) }));
}
