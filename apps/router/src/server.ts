/**
 * The HTTP router: `Host: <app>.<domain>` -> one of the app's healthy replicas.
 * Keep-alive pools to the replicas, WebSocket upgrades, and error pages that say what is wrong.
 */
import http from "node:http";
import type { Duplex } from "node:stream";
import { createProxyServer } from "http-proxy-3";
import type { RoutingTable } from "./table.ts";
import { noHealthyReplica, noSuchApp, upstreamFailed } from "./pages.ts";

export interface RouterStats {
  requests: number;
  errors: number;
}

export function createRouterServer(table: RoutingTable): { server: http.Server; stats: RouterStats } {
  const stats: RouterStats = { requests: 0, errors: 0 };
  // One keep-alive pool for all replicas: Node's Agent keys sockets by host:port.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 60_000 });
  const proxy = createProxyServer({ agent, xfwd: true, ws: true, proxyTimeout: 120_000 });

  const send = (res: http.ServerResponse, status: number, body: string) => {
    if (res.headersSent) return res.destroy();
    res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    stats.requests++;
    const r = table.resolve(req.headers.host);
    if (r.kind === "no-app") return send(res, 404, noSuchApp(r.host || "(no Host header)"));
    if (r.kind === "no-replica") return send(res, 503, noHealthyReplica(r.app));
    proxy.web(req, res, { target: `http://${r.backend}` }, (err: Error) => {
      stats.errors++;
      send(res, 502, upstreamFailed(r.app, (err as NodeJS.ErrnoException).code ?? err.message));
    });
  });

  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const r = table.resolve(req.headers.host);
    if (r.kind !== "backend") {
      socket.end(`HTTP/1.1 ${r.kind === "no-app" ? "404 Not Found" : "503 Service Unavailable"}\r\n\r\n`);
      return;
    }
    proxy.ws(req, socket, head, { target: `http://${r.backend}` }, () => socket.destroy());
  });

  server.keepAliveTimeout = 65_000;
  return { server, stats };
}
