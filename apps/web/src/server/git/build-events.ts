/**
 * GET /api/builds/<id>/events: a build's log as Server-Sent Events, for the
 * dashboard (EventSource sends the session cookie; scripts may send a bearer
 * token). Each event's data is one JSON event of @paas/shared/build-log; the `id` lets
 * EventSource resume (Last-Event-ID) after a dropped connection. The stream
 * ends after the status event.
 */
import { toSse } from "@paas/shared/build-log";
import { authenticateRequest } from "../auth.ts";
import { readableBuild } from "../authz.ts";
import { buildLogStream } from "./build-log.ts";

export async function buildEventsResponse(req: Request, buildId: string): Promise<Response> {
  const { principal } = await authenticateRequest(req.headers);
  if (!principal) return Response.json({ error: "not signed in" }, { status: 401 });
  const build = await readableBuild(principal, buildId);
  if (!build) return Response.json({ error: "build not found" }, { status: 404 });

  const lastId = req.headers.get("last-event-id");
  const after = lastId && /^\d+-\d+$/.test(lastId) ? lastId : "0";
  // retry: reconnect quickly if the connection drops mid-build.
  const sse = buildLogStream(build.id, { follow: true, after, encode: toSse, preamble: "retry: 1000\n\n" });
  return new Response(sse, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
