// GET /metrics/apps/<app>: the app's figures, Prometheus text format ("read" on the app; server/metrics/endpoints.ts, registered in server/routes.ts).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET } = httpRoutes["/metrics/apps/[app]"].handlers;
