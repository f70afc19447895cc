// GET /api/builds/<id>/events: the build log live, as Server-Sent Events (see server/git/build-events.ts).
import { buildEventsResponse } from "../../../../../server/git/build-events.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  return buildEventsResponse(req, (await params).id);
}
