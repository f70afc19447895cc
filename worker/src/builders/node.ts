/**
 * Node.js: built in the build image (compilers, python3, make: native addons build with
 * node-gyp), run on the run image; dependencies in a layer of their own, cached by the
 * lockfile's hash, then the app's source on top and its `build` script.
 *
 *   stack/node-build + package.json, lockfile, .npmrc -> npm ci    => cache/<app>/node-deps:<hash>
 *   deps image + source (without node_modules) -> npm run build, npm prune --omit=dev
 *     => cache/<app>/node-built:<build>, rebased from stack/node-build onto stack/node
 *     => app/<app>:<build>   (stack/node's layers + deps + app: no compilers)
 *
 * A push that changes only code finds the deps image by its hash and skips the install.
 * The deps container sees a package.json without scripts: the root package's own
 * lifecycle scripts would need the source, which is not there yet.
 *
 * A static build (a "build" script, no "start", no web process in a Procfile: detect.ts)
 * is built the same way; its output (static.json's root, else dist/, build/, out/ or
 * public/) is then served by the static server on stack/node, without node_modules.
 *
 * engines.node is checked against the stack's Node (the host's, the one version here).
 * node-gyp builds against the host's headers (the same Node), bound read-only: no download.
 */
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import semver from "semver";
import { APP_PORT, BuildFailure, findImage, finalImageName, packageIndexes, pruneCache, readIfExists, runStep, sha256, shellCmd, tarOfDir, tarOfFiles, type BuildContext, type BuildOutput } from "./context.ts";
import type { Detection } from "./detect.ts";
import type { PackageIndexes } from "./package-indexes.ts";
import { choosePackageManager, CONFIG_FILES, installCommand, installManager, LOCKFILES, packageManagerEnv, PATH_WITH_MANAGER, pruneCommand, runScript, usesPnp, type PackageManager } from "./node-package-manager.ts";
import { STATIC_SERVER } from "./static.ts";

export const RUN_STACK = "stack/node";
export const BUILD_STACK = "stack/node-build";
/** Where a static build's output may be, in this order, when static.json names no root. */
export const STATIC_OUTPUT_DIRS = ["dist", "build", "out", "public"];
/** npm's cache in /tmp, removed at the end of the step: it must not end up in a layer. */
const NPM_ENV = {
  npm_config_cache: "/tmp/.npm",
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false",
  npm_config_progress: "false",
};
/** What the package managers cached in /tmp (NPM_ENV, node-package-manager.ts): never in a layer. */
const CLEAN_CACHES = "rm -rf /tmp/.npm /tmp/.pnpm-store /tmp/.yarn-cache";
/** The host's Node headers (node-gyp's nodedir is their prefix), when this host has them. */
const HOST_NODEDIR = path.dirname(path.dirname(process.execPath));

interface PackageJson {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  engines?: { node?: string };
  packageManager?: unknown;
  [k: string]: unknown;
}

/** The Node version of a stack image: its NODE_VERSION (the official images' variable). */
function stackNodeVersion(env: Record<string, string>): string {
  return env.NODE_VERSION ?? process.version.slice(1);
}

/** Refuses an engines.node this platform's one Node does not satisfy, naming the one it has. */
export function checkEngines(range: string | undefined, have: string): string | undefined {
  if (range === undefined || range.trim() === "") return undefined;
  if (semver.validRange(range) === null) throw new BuildFailure(`package.json's engines.node "${range}" is not a version range; use one like ">=20" or "20.x"`);
  if (!semver.satisfies(have, range)) {
    throw new BuildFailure(`package.json asks for Node ${range} (engines.node), but this platform has Node ${have} only; allow ${semver.major(have)}.x (e.g. ">=${semver.major(have)}") or remove engines.node`);
  }
  return range;
}

/** The step's package indexes plus the host's Node headers for node-gyp (the stack's Node is the host's). */
function nodeIndexes(ctx: BuildContext): PackageIndexes {
  const ix = packageIndexes(ctx);
  const include = path.join(HOST_NODEDIR, "include/node");
  if (!fs.existsSync(path.join(include, "node.h"))) return ix;
  return {
    ...ix,
    env: { ...ix.env, npm_config_nodedir: HOST_NODEDIR },
    binds: [...ix.binds.filter((b) => b.target !== include), { source: include, target: include, readOnly: true }],
  };
}

/**
 * A Yarn 2+ project's own Yarn release and plugins (.yarnrc.yml's yarnPath, .yarn/releases,
 * .yarn/plugins): Yarn runs them, so the dependencies' step needs them.
 */
function yarnOwnFiles(dir: string): string[] {
  const out: string[] = [];
  for (const sub of [".yarn/releases", ".yarn/plugins"]) {
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
        if (e.isDirectory()) walk(`${rel}/${e.name}`);
        else if (e.isFile()) out.push(`${rel}/${e.name}`);
      }
    };
    if (fs.statSync(path.join(dir, sub), { throwIfNoEntry: false })?.isDirectory()) walk(sub);
  }
  return out;
}

/** The app image's env: the installed manager on the PATH; Plug'n'Play's loader for node. */
function runEnv(pm: PackageManager, files: Record<string, string>): Record<string, string> {
  return {
    ...(pm.name === "npm" ? {} : { PATH: PATH_WITH_MANAGER }),
    // Plug'n'Play has no node_modules: node finds the packages through Yarn's loader.
    ...(usesPnp(pm, files) ? { NODE_OPTIONS: "--require /app/.pnp.cjs" } : {}),
  };
}

export async function buildNode(ctx: BuildContext, detection: Detection): Promise<BuildOutput> {
  const { log } = ctx;
  const pkgText = await readIfExists(path.join(ctx.dir, "package.json"));
  if (pkgText === null) throw new BuildFailure("package.json is missing");
  const pkg = JSON.parse(pkgText) as PackageJson;
  const stack = await ctx.agent.image(BUILD_STACK);
  const nodeVersion = stackNodeVersion(stack.config.env);
  const range = checkEngines(pkg.engines?.node, nodeVersion);
  log.step(`Using Node ${nodeVersion}${range ? ` (engines.node "${range}")` : ""}`);
  if (detection.staticBuild) log.info('A static build ("build" script, no "start"): its output is served as a static site');
  const indexes = nodeIndexes(ctx);

  // The deps container's files: package.json without scripts, the lockfiles, the package
  // managers' settings (and a Yarn 2+ project's own Yarn release and plugins).
  const { scripts: _scripts, ...depsPkg } = pkg;
  const depsFiles: Record<string, string> = { "package.json": JSON.stringify(depsPkg, null, 2) + "\n" };
  for (const f of [...Object.values(LOCKFILES).flat(), ...CONFIG_FILES, ...yarnOwnFiles(ctx.dir)]) {
    const text = await readIfExists(path.join(ctx.dir, f));
    if (text !== null) depsFiles[f] = text;
  }
  const pm = choosePackageManager(pkg.packageManager, depsFiles, (msg) => log.info(`Warning: ${msg}`));
  const lockfile = pm.lockfile;
  log.info(`Package manager: ${pm.name}${pm.version ? ` ${pm.version}` : ""} (${pm.because})`);
  const pmEnv = { ...NPM_ENV, ...packageManagerEnv(pm, depsFiles, indexes.env.npm_config_registry) };
  const hasDeps = [pkg.dependencies, pkg.devDependencies, pkg.optionalDependencies].some((d) => d && Object.keys(d).length > 0);

  let base = BUILD_STACK;
  if (hasDeps || lockfile) {
    // Keyed by what decides the install: the stack, and those files.
    const hash = sha256(stack.id, ...Object.entries(depsFiles).flat());
    const depsName = `cache/${ctx.app.name}/node-deps:${hash}`;
    const cached = await findImage(ctx, depsName);
    if (cached) {
      log.step(`Reusing dependencies (${lockfile ? "lockfile unchanged" : "package.json unchanged"})`);
    } else {
      const how = installCommand(pm);
      log.step(`Installing dependencies (${how})`);
      await runStep(ctx, {
        image: BUILD_STACK,
        cmd: ["/bin/sh", "-c", ["set -e", ...installManager(pm), how, CLEAN_CACHES].join("\n")],
        env: pmEnv,
        workdir: "/app",
        archives: [{ dir: "/app", tar: () => tarOfFiles(depsFiles) }],
        commit: { name: depsName },
        purpose: "node-deps",
        indexes,
      });
      await pruneCache(ctx, "node-deps", depsName);
    }
    base = depsName;
  } else {
    log.step("No dependencies to install");
  }

  // Never copy a pushed node_modules (or package manager) over the installed one.
  const skip = (rel: string) => ["node_modules", ".git", ".paas-pm"].some((d) => rel === d || rel.startsWith(`${d}/`));
  const name = finalImageName(ctx);
  const build = pkg.scripts?.build;
  // devDependencies serve the build only: pruned in this (the app's) layer, so the
  // dependency layer below keeps them and stays the cache for the next push.
  const hasDevDeps = !!pkg.devDependencies && Object.keys(pkg.devDependencies).length > 0;
  const prune = pruneCommand(pm);
  const script = [
    ...(build ? [runScript(pm, "build")] : []),
    ...(hasDevDeps && !detection.staticBuild ? [`echo '-----> Pruning devDependencies (${prune})'`, prune] : []),
  ];
  if (build) log.step(`Running build script (${runScript(pm, "build")})`);
  else log.step("Adding the app");
  const built = `cache/${ctx.app.name}/node-built:${ctx.buildId}`;
  await runStep(ctx, {
    image: base,
    cmd: script.length ? ["/bin/sh", "-c", ["set -e", ...script, CLEAN_CACHES].join("\n")] : undefined,
    env: pmEnv,
    workdir: "/app",
    archives: [{ dir: "/app", tar: () => tarOfDir(ctx.dir, skip) }],
    commit: { name: built, config: { cmd: shellCmd(detection.processTypes.web), workdir: "/app", exposedPorts: [APP_PORT], env: runEnv(pm, depsFiles) } },
    purpose: "node-app",
    indexes,
  });
  try {
    if (detection.staticBuild) return await serveOutput(ctx, detection, built);
    log.step("Moving the app onto the run image (stack/node: no compilers)");
    const image = await ctx.agent.rebaseImage({ image: built, from: BUILD_STACK, onto: RUN_STACK, name });
    return { imageRef: name, image, processTypes: detection.processTypes };
  } finally {
    await ctx.agent.removeImage(built).catch(() => {});
  }
}

/**
 * A static build's output, served by the static server on stack/node: only the output
 * directory (and static.json) is copied out of the built image, node_modules stays behind.
 */
async function serveOutput(ctx: BuildContext, detection: Detection, built: string): Promise<BuildOutput> {
  const staticJson = await readIfExists(path.join(ctx.dir, "static.json"));
  let root: string | undefined;
  if (staticJson !== null) {
    try {
      root = (JSON.parse(staticJson) as { root?: string }).root?.replace(/^\.?\/+|\/+$/g, "");
    } catch (err) {
      throw new BuildFailure(`static.json is not valid JSON: ${(err as Error).message}`);
    }
  }
  const candidates = root ? [root] : STATIC_OUTPUT_DIRS;
  let found: string | undefined;
  for (const d of candidates) if ((await ctx.agent.imagePathKind(built, `/app/${d}`)) === "directory") (found ??= d);
  if (!found) {
    throw new BuildFailure(
      root
        ? `static.json's root "${root}" does not exist after npm run build; make the build write there or fix the root`
        : `npm run build made none of ${STATIC_OUTPUT_DIRS.map((d) => `${d}/`).join(", ")}; write the site to one of them, name it in static.json's "root", or add a "start" script to serve it yourself`,
    );
  }
  ctx.log.step(`Serving ${found}/ as a static site (gzip, caching headers)`);
  const name = finalImageName(ctx);
  const output = Readable.fromWeb((await ctx.agent.imageArchive(built, `/app/${found}`)) as NodeReadableStream);
  // static.json (root, clean_urls) is read from /app; without one the output dir is the site
  const env: Record<string, string> = staticJson === null ? { STATIC_DIR: `/app/${found}` } : {};
  const image = await runStep(ctx, {
    image: RUN_STACK,
    cmd: ["node", "/opt/paas/static-server.mjs", "--precompress"],
    env,
    workdir: "/app",
    archives: [
      { dir: "/app", tar: () => output },
      ...(staticJson !== null ? [{ dir: "/app", tar: () => tarOfFiles({ "static.json": staticJson }) }] : []),
      { dir: "/opt/paas", tar: () => tarOfFiles({ "static-server.mjs": fs.readFileSync(STATIC_SERVER) }) },
    ],
    commit: { name, config: { cmd: shellCmd(detection.processTypes.web), workdir: "/app", env, exposedPorts: [APP_PORT] } },
    purpose: "static",
  });
  return { imageRef: name, image: image!, processTypes: detection.processTypes };
}
