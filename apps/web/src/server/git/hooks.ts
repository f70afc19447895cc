/**
 * Where the platform's git hooks live, and the environment that installs them
 * on every repository without touching the repositories: git reads
 * `core.hooksPath` from GIT_CONFIG_COUNT/KEY/VALUE.
 */
import { existsSync } from "node:fs";
import path from "node:path";

/**
 * The hooks directory: $PAAS_GIT_HOOKS_DIR, else apps/web/git-hooks found from
 * the working directory (apps/web under `next start`/`next dev`, or the repo
 * root). Null when it cannot be found; callers must then refuse pushes, since
 * a push without the hook would be accepted without a build.
 */
export function hooksDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string | null {
  const candidates = env.PAAS_GIT_HOOKS_DIR
    ? [path.resolve(cwd, env.PAAS_GIT_HOOKS_DIR)]
    : [path.join(cwd, "git-hooks"), path.join(cwd, "apps/web/git-hooks")];
  return candidates.find((dir) => existsSync(path.join(dir, "pre-receive"))) ?? null;
}

/** Environment of `git http-backend`: CGI variables plus the hook's settings. */
export function backendEnv(input: {
  projectRoot: string;
  pathInfo: string;
  method: string;
  query: string;
  contentType: string | null;
  contentEncoding: string | null;
  contentLength: string | null;
  remoteUser: string;
  remoteAddr: string;
  hooksDir: string | null;
  hook?: { internalUrl: string; app: string; pushToken: string };
}): Record<string, string> {
  // Start from a clean environment: the web process's own GIT_* variables
  // (GIT_DIR from a dev shell, say) must not leak into the repository's git.
  const env: Record<string, string> = {
    // The hook is `#!/usr/bin/env node`: make sure this process's node is found.
    PATH: [path.dirname(process.execPath), process.env.PATH || "/usr/local/bin:/usr/bin:/bin"].join(":"),
    HOME: process.env.HOME || "/root",
    LANG: "C.UTF-8",
    GIT_PROJECT_ROOT: input.projectRoot,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: input.pathInfo,
    REQUEST_METHOD: input.method,
    QUERY_STRING: input.query,
    REMOTE_USER: input.remoteUser,
    REMOTE_ADDR: input.remoteAddr,
    GATEWAY_INTERFACE: "CGI/1.1",
  };
  if (input.contentType) env.CONTENT_TYPE = input.contentType;
  if (input.contentEncoding) env.HTTP_CONTENT_ENCODING = input.contentEncoding;
  if (input.contentLength) env.CONTENT_LENGTH = input.contentLength;
  const cfg: [string, string][] = [];
  if (input.hooksDir) cfg.push(["core.hooksPath", input.hooksDir]);
  env.GIT_CONFIG_COUNT = String(cfg.length);
  cfg.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  // Lets the pusher pass `-o color` (the hook has no tty to find out itself).
  env.GIT_CONFIG_PARAMETERS = "'receive.advertisePushOptions'='true'";
  if (input.hook) {
    env.PAAS_INTERNAL_URL = input.hook.internalUrl;
    env.PAAS_APP = input.hook.app;
    env.PAAS_PUSH_TOKEN = input.hook.pushToken;
  }
  return env;
}
