// POST /internal/pushes: the pre-receive hook's ref updates (server/routes.ts has the table; the handlers are in server/).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { POST } = httpRoutes["/internal/pushes"].handlers;
