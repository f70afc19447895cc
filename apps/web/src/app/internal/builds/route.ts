// POST /internal/builds: the pre-receive hook creates a push's build (server/routes.ts has the table; the handlers are in server/).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { POST } = httpRoutes["/internal/builds"].handlers;
