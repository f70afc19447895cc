/**
 * Node.js: dependencies in a layer of their own, cached by the lockfile's hash, then the
 * app's source on top and its `build` script.
 *
 *   stack/node + package.json, lockfile, .npmrc -> npm ci  => cache/<app>/node-deps:<hash>
 *   deps image + source (without node_modules) -> npm run build, npm prune --omit=dev
 *     => app/<app>:<build>
 *
 * A push that changes only code finds the deps image by its hash and skips the install.
 * The deps container sees a package.json without scripts: the root package's own
 * lifecycle scripts would need the source, which is not there yet.
 */
import path from "node:path";
import { APP_PORT, BuildFailure, findImage, finalImageName, pruneCache, readIfExists, runStep, sha256, shellCmd, tarOfDir, tarOfFiles, type BuildContext, type BuildOutput } from "./context.ts";
import type { Detection } from "./detect.ts";

const STACK = "stack/node";
const LOCKFILES = ["package-lock.json", "npm-shrinkwrap.json"];
/** npm's cache in /tmp, removed at the end of the step: it must not end up in a layer. */
const NPM_ENV = {
  npm_config_cache: "/tmp/.npm",
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false",
  npm_config_progress: "false",
};

interface PackageJson {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [k: string]: unknown;
}

export async function buildNode(ctx: BuildContext, detection: Detection): Promise<BuildOutput> {
  const { log } = ctx;
  const pkgText = await readIfExists(path.join(ctx.dir, "package.json"));
  if (pkgText === null) throw new BuildFailure("package.json is missing");
  const pkg = JSON.parse(pkgText) as PackageJson;
  const stack = await ctx.agent.image(STACK);

  // The deps container's files: package.json without scripts, the lockfile, .npmrc.
  const { scripts: _scripts, ...depsPkg } = pkg;
  const depsFiles: Record<string, string> = { "package.json": JSON.stringify(depsPkg, null, 2) + "\n" };
  for (const f of [...LOCKFILES, ".npmrc"]) {
    const text = await readIfExists(path.join(ctx.dir, f));
    if (text !== null) depsFiles[f] = text;
  }
  const lockfile = LOCKFILES.find((f) => depsFiles[f] !== undefined);
  const hasDeps = [pkg.dependencies, pkg.devDependencies, pkg.optionalDependencies].some((d) => d && Object.keys(d).length > 0);

  let base = STACK;
  if (hasDeps || lockfile) {
    // Keyed by what decides the install: the stack, and those files.
    const hash = sha256(stack.id, ...Object.entries(depsFiles).flat());
    const depsName = `cache/${ctx.app.name}/node-deps:${hash}`;
    const cached = await findImage(ctx, depsName);
    if (cached) {
      log.step(`Reusing dependencies (${lockfile ? "lockfile unchanged" : "package.json unchanged"})`);
    } else {
      const how = lockfile ? "npm ci" : "npm install";
      log.step(`Installing dependencies (${how})`);
      await runStep(ctx, {
        image: STACK,
        cmd: ["/bin/sh", "-c", `set -e\nnode --version | sed 's/^/node /'\n${how} --no-progress\nrm -rf /tmp/.npm`],
        env: NPM_ENV,
        workdir: "/app",
        archives: [{ dir: "/app", tar: () => tarOfFiles(depsFiles) }],
        commit: { name: depsName },
        purpose: "node-deps",
      });
      await pruneCache(ctx, "node-deps", depsName);
    }
    base = depsName;
  } else {
    log.step("No dependencies to install");
  }

  // Never copy a pushed node_modules over the installed one.
  const skip = (rel: string) => rel === "node_modules" || rel.startsWith("node_modules/") || rel === ".git" || rel.startsWith(".git/");
  const name = finalImageName(ctx);
  const build = pkg.scripts?.build;
  // devDependencies serve the build only: pruned in this (the app's) layer, so the
  // dependency layer below keeps them and stays the cache for the next push.
  const hasDevDeps = !!pkg.devDependencies && Object.keys(pkg.devDependencies).length > 0;
  const script = [
    ...(build ? ["npm run build"] : []),
    ...(hasDevDeps ? ["echo '-----> Pruning devDependencies (npm prune --omit=dev)'", "npm prune --omit=dev --no-progress"] : []),
  ];
  if (build) log.step("Running build script (npm run build)");
  else log.step("Adding the app");
  const image = await runStep(ctx, {
    image: base,
    cmd: script.length ? ["/bin/sh", "-c", ["set -e", ...script, "rm -rf /tmp/.npm"].join("\n")] : undefined,
    env: NPM_ENV,
    workdir: "/app",
    archives: [{ dir: "/app", tar: () => tarOfDir(ctx.dir, skip) }],
    commit: { name, config: { cmd: shellCmd(detection.processTypes.web), workdir: "/app", exposedPorts: [APP_PORT] } },
    purpose: "node-app",
  });
  return { imageRef: name, image: image!, processTypes: detection.processTypes };
}
