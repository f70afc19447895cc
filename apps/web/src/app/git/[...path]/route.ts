// git smart HTTP (server/routes.ts has the table; the handlers are in server/).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET, POST } = httpRoutes["/git/[...path]"].handlers;
