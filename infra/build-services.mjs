#!/usr/bin/env node
// Bundles each Node service's entry into dist/services/<name>.mjs, run by infra/up with plain
// `node` (under tsx every service was three processes: a wrapper, the node process and an esbuild
// service). A bundle is rebuilt only when one of its inputs (esbuild's own list, kept beside it)
// or this script is newer than it, so a second `./infra/up` costs a few stats.
//
//   node infra/build-services.mjs [--force]     prints the services it (re)built
//
// Our own code (the entry, the @paas/* workspaces, Prisma's generated client) is bundled; every
// package from node_modules stays an import that node resolves at run time: native addons
// (better-sqlite3), wasm (Prisma's engines) and packages that read files beside themselves work
// as they do unbundled. esbuild is a root devDependency (tsx uses the same one).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const OUT_DIR = path.join(ROOT, "dist/services");
export const SERVICES = {
  agent: "runtime/src/agent/main.ts",
  router: "apps/router/src/main.ts",
  worker: "worker/src/main.ts",
  // The worker's child that runs its jobs (worker/src/job-process.ts starts it).
  "worker-jobs": "worker/src/job-runner.ts",
  migrate: "prisma/migrate.ts",
  bootstrap: "apps/web/scripts/bootstrap.ts",
  "teardown-host": "infra/teardown-host.ts",
  "agent-ctl": "infra/agent-ctl.ts",
};

/**
 * Source files find their neighbours through import.meta (the native helper, the static
 * server, the migrations dir): each keeps its own location in the bundle, not the bundle's.
 */
const sourceLocation = {
  name: "source-location",
  setup(build) {
    build.onLoad({ filter: /\.(ts|mts|js|mjs)$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = await fs.promises.readFile(args.path, "utf8");
      if (!text.includes("import.meta")) return undefined;
      const contents = text
        .replaceAll("import.meta.dirname", JSON.stringify(path.dirname(args.path)))
        .replaceAll("import.meta.filename", JSON.stringify(args.path))
        .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href));
      return { contents, loader: /\.m?ts$/.test(args.path) ? "ts" : "js", resolveDir: path.dirname(args.path) };
    });
  },
};

/**
 * Bare imports of packages node finds from dist/ (the root's node_modules) stay imports. Our
 * workspaces (raw TypeScript) are bundled, and so is a package installed only beside the
 * workspace that uses it (npm nests a version other than the root's there; from dist/ node
 * would not find it).
 */
const externalPackages = {
  name: "external-packages",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("@paas/") || args.path.startsWith("node:")) return undefined;
      const name = args.path.split("/").slice(0, args.path.startsWith("@") ? 2 : 1).join("/");
      for (let dir = args.resolveDir; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "node_modules", name))) {
          return dir === ROOT ? { path: args.path, external: true } : undefined;
        }
        if (dir === path.dirname(dir)) return { path: args.path, external: true }; // a builtin; node says
      }
    });
  },
};

const outFile = (name) => path.join(OUT_DIR, `${name}.mjs`);
const inputsFile = (name) => path.join(OUT_DIR, `${name}.inputs.json`);

function upToDate(name) {
  let built;
  try {
    built = fs.statSync(outFile(name)).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(inputsFile(name), "utf8"));
    for (const f of [fileURLToPath(import.meta.url), ...inputs]) if (fs.statSync(f).mtimeMs > built) return false;
  } catch {
    return false; // never built, or an input is gone
  }
  return true;
}

async function bundle(name) {
  const entry = path.join(ROOT, SERVICES[name]);
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    outfile: outFile(name),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
    plugins: [sourceLocation, externalPackages],
    // A bundle finds its sibling bundles here (the worker its jobs process); under tsx the
    // name is undefined and the sources are run.
    define: { PAAS_SERVICES_DIR: JSON.stringify(OUT_DIR) },
    banner: {
      js: [
        // CommonJS code bundled in (a package nested beside its workspace) requires builtins.
        `import { createRequire as __createRequire } from "node:module";`,
        `const require = __createRequire(import.meta.url);`,
        // The bundle stands in for its entry: argv[1] names the source file, as under tsx, so
        // an entry's "am I the main module?" check (argv[1] against import.meta.url) holds.
        `process.argv[1] = ${JSON.stringify(entry)};`,
      ].join("\n"),
    },
  });
  const inputs = Object.keys(result.metafile.inputs).map((f) => path.resolve(ROOT, f));
  fs.writeFileSync(inputsFile(name), JSON.stringify(inputs));
}

const force = process.argv.includes("--force");
const stale = Object.keys(SERVICES).filter((name) => force || !upToDate(name));
fs.mkdirSync(OUT_DIR, { recursive: true });
await Promise.all(stale.map(bundle));
if (stale.length) console.log(`built ${stale.join(", ")} into ${path.relative(ROOT, OUT_DIR)}/`);
