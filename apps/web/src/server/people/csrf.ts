/**
 * CSRF: a browser sends the session cookies (Better Auth's and a pasted token's) with any
 * request, so a request that changes something and brings a cookie must come from the
 * dashboard's own pages. SameSite=Lax keeps the cookies off another site's POST in current
 * browsers; this does not rely on it. Such a request is refused unless it has:
 * - a same-origin Origin (when sent) and Sec-Fetch-Site same-origin or none (when sent);
 * - Content-Type application/json: an HTML form sends urlencoded, multipart or text/plain
 *   only (tRPC would parse a multipart body as a form);
 * - the header X-PaaS-CSRF: 1 (lib/csrf.ts, sent by the dashboard's tRPC client and its
 *   fetches): a form cannot set a header, and another site's script needs a CORS preflight,
 *   which is never answered.
 * Requests with an Authorization header (the CLI, git, scripts) carry no ambient credential;
 * the cookie is not read for them (auth.ts), so they need none of this. routes.ts applies it
 * to every route's POST and DELETE handlers, Better Auth's included.
 */
import { CSRF_HEADER } from "../../lib/csrf.ts";

const refusal = (why: string) =>
  Response.json(
    {
      error: {
        message: `cross-site request refused (${why}): a signed-in browser's changes come from the dashboard's own pages, which send Content-Type: application/json and ${CSRF_HEADER}: 1; scripts send an API token in the Authorization header`,
      },
    },
    { status: 403, headers: { "cache-control": "no-store" } },
  );

export function crossSiteRefusal(req: Request): Response | null {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") return null;
  if (req.headers.get("authorization")) return null;
  if (!req.headers.get("cookie")) return null;
  const site = req.headers.get("sec-fetch-site");
  const origin = req.headers.get("origin");
  const host = req.headers.get("x-forwarded-host") ?? req.headers.get("host");
  let sameHost = true;
  if (origin) {
    try {
      sameHost = new URL(origin).host === host;
    } catch {
      sameHost = false;
    }
  }
  if ((site && site !== "same-origin" && site !== "none") || !sameHost) return refusal(`from ${origin ?? `a ${site} page`}`);
  const type = req.headers.get("content-type")?.split(";", 1)[0]!.trim().toLowerCase();
  if (type !== "application/json") return refusal(`its body is ${type ?? "untyped"}, not JSON`);
  if (req.headers.get(CSRF_HEADER) !== "1") return refusal(`no ${CSRF_HEADER} header`);
  return null;
}
