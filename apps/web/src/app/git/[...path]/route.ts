// git smart HTTP: see src/server/git/endpoint.ts.
import { handleGitRequest } from "../../../server/git/endpoint.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

type Ctx = { params: Promise<{ path: string[] }> };

export async function GET(req: Request, ctx: Ctx): Promise<Response> {
  return handleGitRequest(req, (await ctx.params).path);
}

export async function POST(req: Request, ctx: Ctx): Promise<Response> {
  return handleGitRequest(req, (await ctx.params).path);
}
