// GET /metrics: the whole platform's figures, Prometheus text format (operators; server/metrics/endpoints.ts, registered in server/routes.ts).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET } = httpRoutes["/metrics"].handlers;
