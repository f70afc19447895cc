// GET /internal/builds/<id>/log?follow=1: a build's log as NDJSON (see server/git/build-log.ts).
import { buildLogResponse } from "../../../../../server/git/internal-builds.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET(req: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  return buildLogResponse(req, (await ctx.params).id);
}
