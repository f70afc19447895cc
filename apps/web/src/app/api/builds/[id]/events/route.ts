// GET /api/builds/<id>/events: a build's log live, as Server-Sent Events (server/routes.ts has the table; the handlers are in server/).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET } = httpRoutes["/api/builds/[id]/events"].handlers;
