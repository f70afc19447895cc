/**
 * The pages the router answers with when it cannot serve an app; each says what failed and what
 * to do next. HAProxy serves them from files data-plane.ts writes (haproxy-config.ts).
 */
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const code = (s: string) => `<code>${esc(s)}</code>`;

function page(status: number, title: string, detail: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${esc(title)}</title>
<style>body{font:16px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;place-items:center;height:100vh;margin:0}
main{max-width:36rem;padding:2rem}h1{font-size:1.5rem;margin:0 0 .5rem}p{color:#94a3b8;line-height:1.5}code{color:#f8fafc}</style>
</head><body><main><h1>${status} &middot; ${esc(title)}</h1><p>${detail}</p></main></body></html>\n`;
}

/**
 * A page naming the app a request was for, whichever it is: HAProxy fills the app in per
 * request (a log-format file: `%[var(txn.app)]`, every other `%` doubled).
 */
export function perApp(page: (app: string) => string): string {
  const MARK = "\u0000";
  return page(MARK).replaceAll("%", "%%").replaceAll(MARK, "%[var(txn.app)]");
}

// The paas CLI has no logs command yet: a replica's output is read on its host.
const replicas = (app: string) =>
  `see its replicas with ${code(`paas apps:info -a ${app}`)}; the platform's operator reads a replica's output with ${code("paas-runtime ps")} and ${code("paas-runtime logs CONTAINER")}`;

export const noSuchApp = () =>
  page(404, "No such app", `No app is deployed at this host name. Check the name, or create the app with ${code("paas apps:create NAME")} and ${code("git push paas main")}.`);

export const noHealthyReplica = (app: string) =>
  page(
    503,
    "No healthy replica",
    `The app ${code(app)} has no replica that takes requests right now: none is running, or the ones running refuse connections or fail their health checks. It may be starting or crashing; ${replicas(app)}.`,
  );

export const badResponse = (app: string) =>
  page(502, "Bad gateway", `A replica of ${code(app)} closed the connection or sent an invalid response instead of answering. It may have crashed mid-request; ${replicas(app)}.`);

export const timedOut = (app: string, seconds: number) =>
  page(504, "Gateway timeout", `A replica of ${code(app)} took the request but sent no response within ${seconds} s. Make the request faster or move the work to a background process; ${replicas(app)}.`);

export const bodyTooLarge = (maxBytes: number) =>
  page(413, "Request body too large", `The router accepts request bodies up to ${maxBytes} bytes. Send a smaller body, or split the upload.`);
