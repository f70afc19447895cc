// POST /internal/builds: the pre-receive hook creates a push's build (see server/git/internal-builds.ts).
import { createBuildFromPush } from "../../../server/git/internal-builds.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export function POST(req: Request): Promise<Response> {
  return createBuildFromPush(req);
}
