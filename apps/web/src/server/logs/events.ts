/**
 * GET /api/apps/<app>/logs: an app's log live, as Server-Sent Events (the dashboard; its
 * EventSource sends the session cookie) or NDJSON (`?format=ndjson`, the CLI's `logs -t`, with
 * a bearer token). Query: `n` recent lines first (default 100, 0 for none), `type`, `grep`,
 * `src` (app|platform), `since` (10m). Each event is one JSON AppLogEntry; its `id` lets
 * EventSource resume (Last-Event-ID) after a dropped connection.
 */
import { formatLine, parseSince, type AppLogEntry } from "@paas/shared/app-log";
import { appName } from "@paas/shared";
import { z } from "zod";
import { authenticateRequest } from "../auth.ts";
import { authorizeApp, AuthzError } from "../authz.ts";
import { followLines, recentLines } from "./app-logs.ts";

const query = z.strictObject({
  n: z.coerce.number().int().min(0).max(10_000).default(100),
  type: z.string().max(64).optional(),
  grep: z.string().max(500).optional(),
  src: z.enum(["app", "platform"]).optional(),
  since: z.string().optional(),
  format: z.enum(["sse", "ndjson", "text"]).default("sse"),
});

const STATUS = { UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404 } as const;

export async function appLogEventsResponse(req: Request, name: string): Promise<Response> {
  const { principal } = await authenticateRequest(req.headers);
  if (!principal) return Response.json({ error: "not signed in: pass an API token (Authorization: Bearer ...)" }, { status: 401 });
  if (!appName.safeParse(name).success) return Response.json({ error: `"${name}" is not an app name` }, { status: 400 });
  try {
    await authorizeApp(principal, name, "read");
  } catch (err) {
    if (err instanceof AuthzError) return Response.json({ error: err.message }, { status: STATUS[err.code] });
    throw err;
  }
  const parsed = query.safeParse(Object.fromEntries(new URL(req.url).searchParams));
  if (!parsed.success) return Response.json({ error: `bad query: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` }, { status: 400 });
  const q = parsed.data;
  const sinceMs = q.since ? parseSince(q.since) : undefined;
  if (q.since && sinceMs === undefined) return Response.json({ error: `--since ${q.since}: say a duration like 30s, 10m, 2h or 1d` }, { status: 400 });
  const filter = { type: q.type || undefined, grep: q.grep || undefined, src: q.src };
  const encode =
    q.format === "sse" ? (e: AppLogEntry) => `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n` : q.format === "ndjson" ? (e: AppLogEntry) => `${JSON.stringify(e)}\n` : (e: AppLogEntry) => `${formatLine(e)}\n`;

  const lastId = req.headers.get("last-event-id");
  let after = "$";
  let preamble = q.format === "sse" ? "retry: 1000\n\n" : "";
  if (lastId && /^\d+-\d+$/.test(lastId)) after = lastId;
  else if (q.n > 0 || sinceMs) {
    const recent = await recentLines(name, { ...filter, n: q.n || 10_000, sinceMs });
    preamble += recent.map(encode).join("");
    // the live part goes on after the last line looked at, so nothing comes twice or is missed
    if (recent.length) after = recent[recent.length - 1].id;
  }
  const body = followLines(name, { after, filter, encode, preamble, signal: req.signal });
  return new Response(body, {
    headers: {
      "content-type": q.format === "sse" ? "text/event-stream; charset=utf-8" : q.format === "ndjson" ? "application/x-ndjson" : "text/plain; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
