/**
 * The metrics sidecar (`paas sidecars:attach metrics -a APP [-e METRICS_PATH=/metrics]
 * [-e METRICS_PORT=5000]`): for an app that serves Prometheus metrics of its own, without a
 * new release or a restart. A busybox container (16M) joins each replica's network namespace
 * and serves, on port 9102 of the replica's address, what the app answers on
 * localhost:METRICS_PORT (the app's $PORT by default) at METRICS_PATH (/metrics by default);
 * its `paas.metrics` label makes the host's agent list it for the platform's Prometheus
 * (runtime/src/agent/metrics.ts), whose series of it carry `sidecar="metrics"` beside the
 * replica's app, process and replica labels. An app that does not answer: 502, so
 * Prometheus's `up` says so.
 *
 * busybox's httpd runs the relay as a CGI script; its wget crashes in a CGI's environment
 * (busybox 1.35), so the script speaks HTTP/1.0 to the app through nc.
 */
import { SidecarKindError } from "./kind-error.ts";
import type { SidecarKind } from "./kinds.ts";

export const METRICS_SIDECAR_PORT = 9102;
const CGI = "/tmp/paas-metrics/cgi-bin/metrics";

// \r\n as printf escapes, written into the script by the heredoc (quoted: nothing expanded at write time).
const SCRIPT = `
mkdir -p ${CGI.slice(0, CGI.lastIndexOf("/"))}
cat > ${CGI} <<'CGI'
#!/bin/sh
r=$(printf 'GET %s HTTP/1.0\\r\\nHost: localhost\\r\\nAccept: text/plain;version=0.0.4\\r\\n\\r\\n' "$METRICS_PATH" | nc -w 5 127.0.0.1 "\${METRICS_PORT:-$PORT}")
case "$r" in
  "HTTP/1."?" 200"*)
    printf 'Content-Type: text/plain; version=0.0.4\\r\\n\\r\\n'
    printf '%s\\n' "$r" | sed '1,/^\\r\\{0,1\\}$/d' ;;
  *)
    printf 'Status: 502 Bad Gateway\\r\\nContent-Type: text/plain\\r\\n\\r\\n'
    printf 'the app answered %s on port %s with: %s\\n' "$METRICS_PATH" "\${METRICS_PORT:-$PORT}" "$(printf '%s' "$r" | head -n 1)" ;;
esac
CGI
chmod +x ${CGI}
exec httpd -f -p ${METRICS_SIDECAR_PORT} -h /tmp/paas-metrics
`.trim();

export const metricsKind: SidecarKind = {
  description: `serves the app's own Prometheus metrics (localhost:$PORT/metrics, or -e METRICS_PATH=/x -e METRICS_PORT=N) to the platform's Prometheus, from each replica's network namespace`,
  resolve(req) {
    const path = req.env?.METRICS_PATH ?? "/metrics";
    if (!/^\/[\w\-./]*$/.test(path)) throw new SidecarKindError(`METRICS_PATH ${JSON.stringify(path)}: give a path like /metrics`);
    const port = req.env?.METRICS_PORT;
    if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535 && Number(port) !== METRICS_SIDECAR_PORT)) {
      throw new SidecarKindError(`METRICS_PORT ${JSON.stringify(port)}: give the port the app serves its metrics on (1-65535, not ${METRICS_SIDECAR_PORT})`);
    }
    return {
      image: "stack/busybox",
      cmd: ["sh", "-c", SCRIPT],
      env: { METRICS_PATH: path, ...(port ? { METRICS_PORT: port } : {}) },
      volumes: [],
      net: "app",
      memoryMb: req.memoryMb ?? 16,
    };
  },
  perReplica: () => ({ labels: { "paas.metrics": `${METRICS_SIDECAR_PORT}/cgi-bin/metrics` } }),
};
