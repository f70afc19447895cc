// GET /internal/builds/<id>/log?follow=1: a build's log as NDJSON (server/routes.ts has the table; the handlers are in server/).
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET } = httpRoutes["/internal/builds/[id]/log"].handlers;
