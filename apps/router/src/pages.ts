/** Error pages the router answers with; each says what is wrong and what to do. */
function page(status: number, title: string, detail: string): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${esc(title)}</title>
<style>body{font:16px system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:grid;place-items:center;height:100vh;margin:0}
main{max-width:36rem;padding:2rem}h1{font-size:1.5rem;margin:0 0 .5rem}p{color:#94a3b8;line-height:1.5}code{color:#f8fafc}</style>
</head><body><main><h1>${status} &middot; ${esc(title)}</h1><p>${detail}</p></main></body></html>\n`;
}

const code = (s: string) => `<code>${s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)}</code>`;

// The paas CLI has no logs command yet: a replica's output is read on its host.
const LOGS = `; the platform's operator reads a replica's output with ${code("paas-runtime ps")} and ${code("paas-runtime logs CONTAINER")}`;

export const noSuchApp = (host: string) =>
  page(404, "No such app", `No app is deployed at ${code(host)}. Check the name, or create it with ${code("paas apps:create NAME")} and ${code("git push paas main")}.`);

export const noHealthyReplica = (app: string) =>
  page(503, "No healthy replica", `The app ${code(app)} has no running replica right now; it may be starting or crashing. See its replicas with ${code(`paas apps:info -a ${app}`)}${LOGS}.`);

export const upstreamFailed = (app: string, reason: string) =>
  page(502, "Bad gateway", `The app ${code(app)} did not answer (${code(reason)}). It may have crashed or stopped listening on $PORT; see its replicas with ${code(`paas apps:info -a ${app}`)}${LOGS}.`);
