// GET /api/backups/<id>/download?app=APP: `paas backups:download` (server/backups/download.ts), registered in server/routes.ts.
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET } = httpRoutes["/api/backups/[id]/download"].handlers;
