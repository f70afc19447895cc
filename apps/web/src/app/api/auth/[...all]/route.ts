// Better Auth's endpoints (sign-in/email, sign-out, get-session): see server/people/better-auth.ts.
import { httpRoutes } from "@/server/routes.ts";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET, POST } = httpRoutes["/api/auth/[...all]"].handlers;
