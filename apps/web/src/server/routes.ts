/**
 * The HTTP routes: the table every route file under src/app registers its handlers from,
 * with the credential each one takes. tests/e2e/authz-walk.test.ts walks this table (and
 * checks that every route.ts file is in it), so a new route cannot skip authorization.
 *
 * Credentials: "principal" routes authenticate in auth.ts and decide in authz.ts;
 * "push-token" routes take the one-time token the git endpoint minted for a push it had
 * authorized; "worker-token" routes take the workers' shared secret; "public" routes are
 * Better Auth's sign-in endpoints (rate-limited, Origin-checked). Every POST and DELETE that
 * brings a cookie passes the CSRF check first (csrfGuarded).
 */
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "./routers/_app.ts";
import { createContext } from "./trpc.ts";
import { auth } from "./people/better-auth.ts";
import { crossSiteRefusal } from "./people/csrf.ts";
import { handleGitRequest } from "./git/endpoint.ts";
import { buildEventsResponse } from "./git/build-events.ts";
import {
  buildLogResponse,
  buildSourceResponse,
  createBuildFromPush,
  decidePushFromHook,
  deleteBuildSourceResponse,
  deletePreviewFromPush,
} from "./git/internal-builds.ts";
import { runInputResponse, startRunResponse } from "./run/sessions.ts";
import { appMetricsResponse, platformMetricsResponse } from "./metrics/endpoints.ts";
import { appLogEventsResponse } from "./logs/events.ts";
import { downloadResponse } from "./backups/download.ts";

type Params = Record<string, string | string[]>;
type Handler = (req: Request, ctx: { params: Promise<Params> }) => Promise<Response>;
export type Credential = "principal" | "push-token" | "worker-token" | "public";
export interface Route {
  credential: Credential;
  handlers: Partial<Record<"GET" | "POST" | "DELETE", Handler>>;
}

async function trpc(req: Request): Promise<Response> {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: ({ req, resHeaders }) => createContext({ headers: req.headers, resHeaders }),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`tRPC ${path ?? "?"}:`, error.cause ?? error);
    },
  });
}

const betterAuth: Handler = (req) => auth().handler(req);
const str = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join("/") : (v ?? ""));
const git: Handler = async (req, ctx) => {
  const p = (await ctx.params).path;
  return handleGitRequest(req, Array.isArray(p) ? p : [str(p)]);
};
const withId =
  (fn: (req: Request, id: string) => Promise<Response>): Handler =>
  async (req, ctx) =>
    fn(req, str((await ctx.params).id));

/** Every POST and DELETE handler refuses a cookie-carrying request from elsewhere first (people/csrf.ts). */
function csrfGuarded<T extends Record<string, Route>>(routes: T): T {
  for (const route of Object.values(routes)) {
    for (const method of ["POST", "DELETE"] as const) {
      const handler = route.handlers[method];
      if (handler) route.handlers[method] = async (req, ctx) => crossSiteRefusal(req) ?? handler(req, ctx);
    }
  }
  return routes;
}

/** Keys are the route files' paths under src/app (Next's pattern syntax). */
export const httpRoutes = csrfGuarded({
  "/api/trpc/[trpc]": { credential: "principal", handlers: { GET: trpc, POST: trpc } },
  "/api/auth/[...all]": { credential: "public", handlers: { GET: betterAuth, POST: betterAuth } },
  "/api/builds/[id]/events": { credential: "principal", handlers: { GET: withId(buildEventsResponse) } },
  "/git/[...path]": { credential: "principal", handlers: { GET: git, POST: git } },
  "/internal/pushes": { credential: "push-token", handlers: { POST: (req) => decidePushFromHook(req) } },
  "/internal/builds": { credential: "push-token", handlers: { POST: (req) => createBuildFromPush(req) } },
  "/internal/previews": { credential: "push-token", handlers: { DELETE: (req) => deletePreviewFromPush(req) } },
  "/internal/builds/[id]/log": { credential: "principal", handlers: { GET: withId(buildLogResponse) } },
  "/internal/builds/[id]/source": { credential: "worker-token", handlers: { GET: withId(buildSourceResponse), DELETE: withId(deleteBuildSourceResponse) } },
  "/api/run": { credential: "principal", handlers: { POST: (req) => startRunResponse(req) } },
  "/api/run/[id]/input": { credential: "principal", handlers: { POST: withId(runInputResponse) } },
  "/metrics": { credential: "principal", handlers: { GET: (req) => platformMetricsResponse(req) } },
  "/metrics/apps/[app]": { credential: "principal", handlers: { GET: async (req, ctx) => appMetricsResponse(req, str((await ctx.params).app)) } },
  "/api/apps/[name]/logs": { credential: "principal", handlers: { GET: async (req, ctx) => appLogEventsResponse(req, str((await ctx.params).name)) } },
  "/api/backups/[id]/download": { credential: "principal", handlers: { GET: withId(downloadResponse) } },
} satisfies Record<string, Route>);

export const authRoutes = httpRoutes["/api/auth/[...all]"].handlers;
