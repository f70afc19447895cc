// POST /api/run/<session>/input: the caller's stdin and terminal size (server/routes.ts has the table; the handlers are in server/run/sessions.ts).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { POST } = httpRoutes["/api/run/[id]/input"].handlers;
