// DELETE /internal/previews: the pre-receive hook removes a preview app (server/routes.ts has the table; the handlers are in server/).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { DELETE } = httpRoutes["/internal/previews"].handlers;
