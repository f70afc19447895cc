/**
 * HAProxy's configuration for the routing table: what every request goes through (the rules
 * below are the router's, whatever process forwards the bytes). Pure: data-plane.ts writes it
 * and the files it names.
 *
 * Per request: the app and its backend from the Host header (hosts.map, `host backend/app`;
 * unknown host: our 404 page), a fresh
 * X-Request-Id (to the app, back to the client, and in the access log), X-Forwarded-For/Proto/Host,
 * a body size limit (413), then the app's backend: least connections over its ready replicas,
 * keep-alive connections to them, a refused or failed connection retried on another replica.
 * Health: an active check (HEAD /, any HTTP answer within 1 s counts) every 5 s while a
 * replica is up, every 150 ms once one failed, every 1 s while it is down; two failures in a row
 * take a replica out (one slow answer on a busy host does not), two passes bring it back. A
 * connection a request could not make (refused, or not made within 1 s) takes the replica out at
 * once and the request goes to another (passive), so under traffic a replica that crashed or
 * vanished is out at its first failed request; one that takes connections but never answers is
 * out after its next two checks, within ~7 s (5 + 1 + 0.15 + 1). The checks are this rare because each is a request in
 * the app's own log: at 500 ms, an app that logs its requests (morgan, werkzeug, Django) showed
 * two check lines a second per replica and little else. They carry `User-Agent:
 * paas-router-health-check` for a logger to skip. When every replica is out, their unchecked
 * twins still take requests (panic mode, renderBackend).
 * The config holds a pool of backends; an app takes a spare backend and deploys add and delete
 * its servers, all through HAProxy's runtime API (map entries, `add server`, server states,
 * `del server`), without a reload (data-plane.ts). Only replicas are servers: an empty slot
 * kept in the config would cost a check task waking every 300 ms (a pool of 128 idle slots
 * took ~4 % of a core).
 * TLS: a second frontend on the HTTPS port, the same rules but X-Forwarded-Proto https; the
 * certificate by SNI from crt-list (a custom domain's own, see tls.ts), else the default one
 * for *.<domain>. It is a bind of its own, so the plain HTTP path is exactly as it was.
 */
import path from "node:path";

export interface DataPlaneSettings {
  /** Where the config, the map, the pages and the admin socket live. */
  dir: string;
  /** The port apps are served on (PAAS_HTTP_PORT), on every address. */
  port: number;
  /** The TLS port (PAAS_HTTPS_PORT), on every address. */
  httpsPort: number;
  /** The default certificate (chain and key) for hosts without one of their own: *.<domain>. */
  defaultCert: string;
  /** The router's own copies of the custom domains' certificates (tls.ts; fetched from Redis). */
  tlsDir: string;
  /** Whether the host has IPv6 (then the port is bound on :: too). */
  ipv6: boolean;
  /** Request bodies declared larger (Content-Length) are refused with 413. */
  maxBodyBytes: number;
  /** A replica that took a request but sends no response within this gets a 504. */
  responseTimeoutS: number;
}

/** A backend of the pool: the app it serves (null: a spare), its hosts and its server slots (an address, or null: no server by that name). */
export interface Backend {
  name: string;
  app: string | null;
  hosts: string[];
  slots: (string | null)[];
}

export const files = (dir: string) => ({
  config: path.join(dir, "haproxy.cfg"),
  map: path.join(dir, "hosts.map"),
  /** The custom domains' certificates, one `<file> <host>` line each (the SNI they serve). */
  crtList: path.join(dir, "crt-list"),
  socket: path.join(dir, "admin.sock"),
  pid: path.join(dir, "haproxy.pid"),
  pages: path.join(dir, "pages"),
  page: (name: string) => path.join(dir, "pages", name),
});

export const backendName = (i: number) => `pool.${i}`;
export const slotName = (i: number) => `r${i + 1}`;
/** A slot's unchecked twin (a backup server on the same replica): HAProxy's panic mode, see renderBackend. */
export const panicName = (i: number) => `p${i + 1}`;
/** Every replica's checked server, in the config and in each runtime `add server` alike. */
export const SERVER_OPTIONS = "check inter 5s fastinter 150ms downinter 1s fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down";

/**
 * The access log line HAProxy prints for each request, already in the access log file's form
 * (access-log.ts only strips "access " and counts the figures, so a request costs the
 * controller little): time (%tr, UTC: haproxy.ts runs HAProxy with TZ=UTC), request id, app
 * ('-': none), server, status, total ms, bytes in, bytes out, client address, method, URI.
 */
export const ACCESS_LOG_FORMAT = "access %tr %ID %[var(txn.app)] %s %ST %Ta%[str(ms)] in=%U out=%B %ci %HM %HU";

export function renderConfig(s: DataPlaneSettings, backends: Backend[]): string {
  const f = files(s.dir);
  const global = `global
  stats socket ${f.socket} mode 600 level admin expose-fd listeners
  log stdout format raw local0
  # After a reload the old worker finishes what it carries (WebSockets included) for at most this.
  hard-stop-after 5m

defaults
  mode http
  log global
  log-format "${ACCESS_LOG_FORMAT}"
  option dontlognull
  # On a reload the old worker answers a request that comes on an idle keep-alive connection
  # (with Connection: close) instead of closing it under the client.
  option idle-close-on-response
  option forwardfor
  http-reuse safe
  timeout connect 1s
  timeout client 60s
  timeout server ${s.responseTimeoutS}s
  timeout http-request 30s
  timeout http-keep-alive 60s
  timeout queue 5s
  timeout tunnel 1h
  timeout check 1s
  # A connection that could not be made is tried again, on another replica.
  retries 2
  option redispatch 1
  retry-on conn-failure empty-response
  # The app a request was for is in each page (a log-format file).
  http-error status 502 content-type "text/html; charset=utf-8" lf-file ${f.page("502.html")} hdr cache-control no-store
  http-error status 503 content-type "text/html; charset=utf-8" lf-file ${f.page("503.html")} hdr cache-control no-store
  http-error status 504 content-type "text/html; charset=utf-8" lf-file ${f.page("504.html")} hdr cache-control no-store

${frontend("http", binds(s.port, s.ipv6), "http", s, f)}
${frontend("https", binds(s.httpsPort, s.ipv6, ` ssl crt ${s.defaultCert} crt-list ${f.crtList} alpn h2,http/1.1`), "https", s, f)}`;
  return [global, ...backends.map(renderBackend)].join("\n");
}

const binds = (port: number, ipv6: boolean, opts = "") => [`  bind 0.0.0.0:${port}${opts}`, ...(ipv6 ? [`  bind :::${port} v6only${opts}`] : [])].join("\n");

/** A frontend: host -> app -> backend, the same for HTTP and HTTPS but for X-Forwarded-Proto. */
function frontend(name: string, bindLines: string, proto: "http" | "https", s: DataPlaneSettings, f: ReturnType<typeof files>): string {
  return `frontend ${name}
${bindLines}
  unique-id-format %[uuid()]
  http-request set-header X-Request-Id %[unique-id]
  http-request set-header X-Forwarded-Proto ${proto}
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request return status 413 content-type "text/html; charset=utf-8" file ${f.page("413.html")} hdr cache-control no-store if { req.hdr_val(content-length) gt ${s.maxBodyBytes} }
  http-request set-var(txn.route) req.hdr(host),lower,field(1,:),map(${f.map})
  http-request return status 404 content-type "text/html; charset=utf-8" file ${f.page("404.html")} hdr cache-control no-store if !{ var(txn.route) -m found }
  http-request set-var(txn.app) var(txn.route),field(2,/)
  http-response set-header X-Request-Id %[unique-id]
  use_backend %[var(txn.route),field(1,/)]
`;
}

function renderBackend(b: Backend): string {
  const servers = b.slots.flatMap((addr, i) => (addr ? [`  server ${slotName(i)} ${addr} ${SERVER_OPTIONS}\n  server ${panicName(i)} ${addr} backup\n`] : []));
  return `backend ${b.name}
  balance leastconn
  # When the checks have taken every replica out (on a busy host two slow checks in a row can),
  # requests still go to them, through their unchecked twins, rather than all getting a 503:
  # Envoy's panic threshold. A replica that is really down fails those just the same.
  option allbackups
  option httpchk
  http-check send meth HEAD uri / ver HTTP/1.1 hdr host localhost hdr user-agent paas-router-health-check
  http-check expect rstatus .
${servers.join("")}`;
}

/** A hosts.map entry's value: the backend, then the app. */
export const route = (b: Backend) => `${b.name}/${b.app}`;

/** hosts.map: one `host backend/app` line per host. */
export const renderMap = (backends: Backend[]) => backends.flatMap((b) => (b.app ? b.hosts.map((h) => `${h} ${route(b)}\n`) : [])).join("");
