/**
 * CSRF: a browser sends the session cookie with any request, so a mutation that a cookie
 * authenticates must come from the dashboard's own pages. Browsers send Origin on every POST
 * (and Sec-Fetch-Site); a request whose Origin is another host is refused. Calls with an
 * Authorization header (the CLI, scripts) carry no ambient credential and are not affected.
 * The session cookies are SameSite=Lax as well.
 */
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
  if ((site && site !== "same-origin" && site !== "none") || !sameHost) {
    return Response.json(
      { error: { message: "cross-site request refused: use the dashboard's own pages, or send an API token in the Authorization header" } },
      { status: 403 },
    );
  }
  return null;
}
