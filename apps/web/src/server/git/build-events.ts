/**
 * GET /api/builds/<id>/events: a build's log as Server-Sent Events, for the
 * dashboard (EventSource sends the session cookie; scripts may send a bearer
 * token). Each event's data is one JSON event of build-log.ts; the `id` lets
 * EventSource resume (Last-Event-ID) after a dropped connection. The stream
 * ends after the status event.
 */
import { authenticateToken } from "../auth.ts";
import { readableBuild } from "../authz.ts";
import { requestTokens } from "../trpc.ts";
import { buildLogStream } from "./build-log.ts";

export async function buildEventsResponse(req: Request, buildId: string): Promise<Response> {
  const { headerToken, sessionToken } = requestTokens(req.headers);
  const principal = await authenticateToken(headerToken ?? sessionToken);
  if (!principal) return Response.json({ error: "not signed in" }, { status: 401 });
  const build = await readableBuild(principal, buildId);
  if (!build) return Response.json({ error: "build not found" }, { status: 404 });

  const lastId = req.headers.get("last-event-id");
  const after = lastId && /^\d+-\d+$/.test(lastId) ? lastId : "0";
  const ndjson = buildLogStream(build.id, { follow: true, after });
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let rest = "";
  const sse = ndjson.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(controller) {
        // Reconnect quickly if the connection drops mid-build.
        controller.enqueue(enc.encode("retry: 1000\n\n"));
      },
      transform(chunk, controller) {
        const lines = (rest + dec.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.trim()) continue;
          const id = (JSON.parse(line) as { id?: string }).id;
          controller.enqueue(enc.encode(`${id ? `id: ${id}\n` : ""}data: ${line}\n\n`));
        }
      },
    }),
  );
  return new Response(sse, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
