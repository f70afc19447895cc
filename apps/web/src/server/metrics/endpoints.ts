/**
 * GET /metrics/apps/<app> (the app's figures; "read" on the app) and GET /metrics (the whole
 * platform's; operators), bearer token, the Prometheus text format: what Prometheus holds now,
 * by federation, so another Prometheus (or a script) scrapes them like any exporter.
 * A caller who may not read the app gets 404 (as for the API, an app of another team is not
 * revealed), one without a valid token 401; neither gets any figure.
 */
import { appName } from "@paas/shared";
import { authenticateToken, tokenFromAuthorization } from "../auth.ts";
import { authorizeApp, authorizeOperator, AuthzError } from "../authz.ts";
import { federate, PrometheusError } from "./prometheus.ts";

const TEXT = "text/plain; version=0.0.4; charset=utf-8";
const STATUS = { UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404 } as const;

const plain = (status: number, text: string, headers: Record<string, string> = {}) =>
  new Response(`${text}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers } });

async function answer(req: Request, authorize: (p: Awaited<ReturnType<typeof authenticateToken>>) => Promise<unknown>, matchers: string[]): Promise<Response> {
  const token = tokenFromAuthorization(req.headers.get("authorization"));
  const principal = await authenticateToken(token);
  try {
    if (token && !principal) throw new AuthzError("the API token was not accepted (unknown, revoked or expired): make one with `paas tokens:create`", "UNAUTHORIZED");
    await authorize(principal);
  } catch (err) {
    if (!(err instanceof AuthzError)) throw err;
    return plain(STATUS[err.code], err.message, err.code === "UNAUTHORIZED" ? { "www-authenticate": 'Bearer realm="paas"' } : {});
  }
  try {
    return new Response(await federate(matchers), { headers: { "content-type": TEXT, "cache-control": "no-store" } });
  } catch (err) {
    if (err instanceof PrometheusError) return plain(503, err.message);
    throw err;
  }
}

export function appMetricsResponse(req: Request, app: string): Promise<Response> {
  const name = appName.safeParse(app);
  // Not a name any app can have: as unknown as an app the caller may not read.
  if (!name.success) return Promise.resolve(plain(404, `app "${app}" not found (or you have no access to it)`));
  return answer(req, (p) => authorizeApp(p, name.data, "read"), [`{app="${name.data}"}`]);
}

export function platformMetricsResponse(req: Request): Promise<Response> {
  return answer(req, async (p) => authorizeOperator(p, "read the whole platform's metrics (GET /metrics); GET /metrics/apps/<app> serves one app's"), ['{job=~".+"}']);
}
