// DELETE /internal/previews: the pre-receive hook removes a preview app (see server/git/internal-builds.ts).
import { deletePreviewFromPush } from "../../../server/git/internal-builds.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export function DELETE(req: Request): Promise<Response> {
  return deletePreviewFromPush(req);
}
