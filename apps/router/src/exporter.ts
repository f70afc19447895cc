/**
 * The router's per-app figures (figures.ts) for Prometheus, on loopback only
 * (PAAS_ROUTER_METRICS_PORT): requests by status class, bytes, and the latency histogram,
 * counted since this router started (Prometheus's rate() takes a restart as a counter reset).
 * Served by the router itself because it holds them; no process of its own.
 */
import http from "node:http";
import type { AppFigures, Figures } from "./figures.ts";

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/** The figures of every app, in the Prometheus text format (0.0.4). */
export function renderFigures(all: Iterable<[string, AppFigures]>): string {
  const req: string[] = [];
  const bytesIn: string[] = [];
  const bytesOut: string[] = [];
  const hist: string[] = [];
  for (const [app, f] of all) {
    const a = `app="${esc(app)}"`;
    for (const [cls, n] of Object.entries(f.requests)) req.push(`paas_router_requests_total{${a},code="${cls}"} ${n}`);
    bytesIn.push(`paas_router_request_bytes_total{${a}} ${f.bytesIn}`);
    bytesOut.push(`paas_router_response_bytes_total{${a}} ${f.bytesOut}`);
    // Prometheus buckets are cumulative and in seconds.
    let cum = 0;
    f.latencyMs.buckets.forEach((le, i) => {
      cum += f.latencyMs.counts[i];
      hist.push(`paas_router_request_duration_seconds_bucket{${a},le="${le / 1000}"} ${cum}`);
    });
    hist.push(`paas_router_request_duration_seconds_bucket{${a},le="+Inf"} ${f.latencyMs.count}`);
    hist.push(`paas_router_request_duration_seconds_sum{${a}} ${f.latencyMs.sum / 1000}`);
    hist.push(`paas_router_request_duration_seconds_count{${a}} ${f.latencyMs.count}`);
  }
  const fam = (name: string, type: string, help: string, lines: string[]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${lines.map((l) => `${l}\n`).join("")}`;
  return (
    fam("paas_router_requests_total", "counter", "Requests the router answered for the app, by status class.", req) +
    fam("paas_router_request_bytes_total", "counter", "Bytes of the app's requests.", bytesIn) +
    fam("paas_router_response_bytes_total", "counter", "Bytes of the app's responses.", bytesOut) +
    fam("paas_router_request_duration_seconds", "histogram", "Time from the request's first byte to the response's last (HAProxy's %Ta).", hist)
  );
}

/** Serves GET /metrics on 127.0.0.1:port; anything else is 404. */
export function serveFigures(figures: Figures, port: number): http.Server {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics here\n");
      return;
    }
    const text = renderFigures(figures.entries());
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": Buffer.byteLength(text) }).end(text);
  });
  server.on("error", (err) => console.error(`router: the metrics endpoint on 127.0.0.1:${port} failed: ${err.message}; Prometheus gets no router figures (is PAAS_ROUTER_METRICS_PORT taken?)`));
  server.listen(port, "127.0.0.1");
  return server;
}
