// POST /internal/pushes: the pre-receive hook passes a push's ref updates; the branch policy decides (see server/git/internal-builds.ts).
import { decidePushFromHook } from "../../../server/git/internal-builds.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export function POST(req: Request): Promise<Response> {
  return decidePushFromHook(req);
}
