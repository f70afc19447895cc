// GET/DELETE /internal/builds/<id>/source: a build's source tarball, for workers (server/routes.ts has the table; the handlers are in server/).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET, DELETE } = httpRoutes["/internal/builds/[id]/source"].handlers;
