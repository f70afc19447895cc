// GET /internal/builds/<id>/source: a build's source tarball, for workers (see server/git/internal-builds.ts).
import { buildSourceResponse } from "../../../../../server/git/internal-builds.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function GET(req: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  return buildSourceResponse(req, (await ctx.params).id);
}
