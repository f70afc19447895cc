// GET /api/apps/<name>/logs: the app's log live (SSE, or NDJSON for the CLI); server/logs/events.ts, registered in server/routes.ts.
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET } = httpRoutes["/api/apps/[name]/logs"].handlers;
