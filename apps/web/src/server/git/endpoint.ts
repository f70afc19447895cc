/**
 * The git smart-HTTP endpoint: `/git/<app>.git/info/refs?service=...`,
 * `/git/<app>.git/git-upload-pack` and `/git/<app>.git/git-receive-pack`.
 *
 * 1. parse the path (only the smart protocol; the dumb one is refused);
 * 2. authenticate (HTTP Basic with the token as password, or Bearer) and
 *    authorize: "deploy" to push, "read" to fetch; nothing is created or
 *    changed before both pass;
 * 3. create the app's bare repository if missing;
 * 4. for a push, mint a one-time push token for the pre-receive hook;
 * 5. run the system's `git http-backend` as CGI and stream its answer.
 */
import { appName, config } from "@paas/shared";
import { authenticateToken, tokenFromAuthorization } from "../auth.ts";
import { authorizeApp, AuthzError } from "../authz.ts";
import { auditSubject, clientAddress, outcomeOf, recordAudit } from "../audit/record.ts";
import { runCgi } from "./cgi.ts";
import { backendEnv, hooksDir } from "./hooks.ts";
import { createPushToken, revokePushToken } from "./push-tokens.ts";
import { ensureRepo, reposDir } from "./repos.ts";

export type GitService = "git-upload-pack" | "git-receive-pack";

export interface GitRoute {
  app: string;
  service: GitService;
  /** PATH_INFO for http-backend: "/<app>.git/<rest>". */
  pathInfo: string;
}

/** Maps the request to a route, or to the HTTP error to answer. */
export function parseGitRequest(
  segments: string[],
  method: string,
  search: URLSearchParams,
): GitRoute | { status: number; message: string } {
  const [repo, ...rest] = segments;
  const m = /^(.+)\.git$/.exec(repo ?? "");
  if (!m || !appName.safeParse(m[1]).success) {
    return { status: 404, message: "not found: use /git/<app>.git" };
  }
  const app = m[1];
  const tail = rest.join("/");
  const pathInfo = `/${app}.git/${tail}`;
  if (tail === "info/refs") {
    if (method !== "GET") return { status: 405, message: "method not allowed" };
    const service = search.get("service");
    if (service !== "git-upload-pack" && service !== "git-receive-pack") {
      return { status: 403, message: "only git's smart HTTP protocol is served; use git 1.6.6 or newer" };
    }
    return { app, service, pathInfo };
  }
  if (tail === "git-upload-pack" || tail === "git-receive-pack") {
    if (method !== "POST") return { status: 405, message: "method not allowed" };
    return { app, service: tail, pathInfo };
  }
  return { status: 404, message: "not found: only the smart HTTP protocol is served" };
}

function text(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

const CHALLENGE = { "www-authenticate": 'Basic realm="paas"' };

export async function handleGitRequest(req: Request, segments: string[]): Promise<Response> {
  const url = new URL(req.url);
  const route = parseGitRequest(segments, req.method, url.searchParams);
  if ("status" in route) return text(route.status, route.message);

  const token = tokenFromAuthorization(req.headers.get("authorization"));
  if (!token) {
    return text(401, "authentication required: use http://<any user>:<API token>@<host>/git/<app>.git", CHALLENGE);
  }
  const principal = await authenticateToken(token);
  if (!principal) return text(401, "invalid, revoked or expired token: use a valid API token as the password (`paas tokens:create --team T` makes one)", CHALLENGE);

  let app;
  try {
    app = await authorizeApp(principal, route.app, route.service === "git-receive-pack" ? "deploy" : "read");
  } catch (err) {
    if (!(err instanceof AuthzError)) throw err;
    // A refused push goes in the audit log, as a refused tRPC change does (trpc.ts).
    if (route.service === "git-receive-pack") {
      const subject = await auditSubject("git.push", { app: route.app }, undefined);
      await recordAudit({ principal, address: clientAddress(req.headers), action: "git.push", ...subject, details: { app: route.app }, outcome: outcomeOf(err) });
    }
    if (err.code === "UNAUTHORIZED") return text(401, err.message, CHALLENGE);
    if (err.code === "FORBIDDEN") return text(403, err.message);
    // The same answer whether the app is another team's or nobody's (authz.ts).
    return text(404, `no app named "${route.app}" in your teams: check the remote's URL (paas git:remote -a APP), or create it with paas apps:create ${route.app}`);
  }

  await ensureRepo(app.name, { branch: app.deployBranch });

  const isPush = route.service === "git-receive-pack" && req.method === "POST";
  const hooks = hooksDir();
  if (route.service === "git-receive-pack" && !hooks) {
    // Fail closed: without the hook a push would be accepted and never built.
    console.error("git: pre-receive hook not found; set PAAS_GIT_HOOKS_DIR to apps/web/git-hooks");
    return text(500, "the server's git hooks are missing; pushes are disabled until an operator fixes it");
  }
  const pushToken = isPush
    ? await createPushToken({ appId: app.id, app: app.name, userId: principal.userId, tokenId: principal.tokenId ?? undefined, address: clientAddress(req.headers) ?? "" })
    : null;

  const env = backendEnv({
    projectRoot: reposDir(),
    pathInfo: route.pathInfo,
    method: req.method,
    query: url.search.replace(/^\?/, ""),
    contentType: req.headers.get("content-type"),
    contentEncoding: req.headers.get("content-encoding"),
    contentLength: req.headers.get("content-length"),
    remoteUser: principal.email,
    remoteAddr: req.headers.get("x-forwarded-for")?.split(",")[0]?.trim() || "127.0.0.1",
    hooksDir: hooks,
    hook: pushToken
      ? { internalUrl: config().internalUrl, app: app.name, pushToken }
      : undefined,
  });
  return runCgi({
    command: "git",
    args: ["http-backend"],
    env,
    body: req.method === "POST" ? req.body : null,
    // The push is over: its token must not outlive it.
    onExit: pushToken ? () => void revokePushToken(pushToken).catch(() => {}) : undefined,
    // no-transform: a compressing proxy (or Next's own compression) would hold
    // back the hook's live output.
    extraHeaders: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" },
  });
}
