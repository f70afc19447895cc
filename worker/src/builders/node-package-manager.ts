/**
 * Which package manager installs a Node app, and how: npm, pnpm or Yarn (1, or 2+ "berry"),
 * as the app's own files choose, the way Heroku's Node buildpack does:
 *   - package.json's "packageManager" ("pnpm@9.12.0", "yarn@4.5.3", "npm@10.8.2"), else
 *   - its lockfile: package-lock.json / npm-shrinkwrap.json (npm), pnpm-lock.yaml (pnpm, the
 *     major version its lockfileVersion belongs to), yarn.lock (Yarn 1 for a "yarn lockfile v1",
 *     else Yarn 4), else
 *   - npm.
 * pnpm and Yarn are installed with npm, from the same registry as the app's packages (npm
 * checks their integrity as it does any package's), into /app/.paas-pm in the dependencies'
 * layer (builds do not run as root: /usr/local is not theirs), on the PATH of the build steps
 * and of the app's image, for a Procfile's `web: yarn start`. Not through corepack: it insists
 * on registry signatures that a mirror may not serve.
 */
import { BuildFailure } from "./context.ts";

export type PackageManagerName = "npm" | "pnpm" | "yarn";

export interface PackageManager {
  name: PackageManagerName;
  /** The version to install (undefined: npm, the stack's own). */
  version?: string;
  /** Yarn 2 and later: another CLI (@yarnpkg/cli-dist), other flags, Plug'n'Play by default. */
  berry: boolean;
  /** The lockfile it installs from, if any. */
  lockfile?: string;
  /** Why this one (for the build log). */
  because: string;
}

/** The versions installed when only a lockfile says which manager (the newest of each line). */
export const DEFAULT_VERSIONS = { pnpm: { 9: "9.15.9", 8: "8.15.9", 7: "7.33.7" }, yarn1: "1.22.22", berry: "4.9.2" } as const;

export const LOCKFILES: Record<PackageManagerName, string[]> = {
  npm: ["package-lock.json", "npm-shrinkwrap.json"],
  pnpm: ["pnpm-lock.yaml"],
  yarn: ["yarn.lock"],
};

/** Files that decide the install besides package.json and the lockfile. */
export const CONFIG_FILES = [".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml"];

const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

/** pnpm's major version for a pnpm-lock.yaml, by its lockfileVersion. */
function pnpmForLockfile(text: string): string {
  const v = /^lockfileVersion:\s*['"]?([\d.]+)/m.exec(text)?.[1];
  const major = v ? Number(v.split(".")[0]) : 9;
  if (major >= 9) return DEFAULT_VERSIONS.pnpm[9];
  if (major >= 6) return DEFAULT_VERSIONS.pnpm[8];
  return DEFAULT_VERSIONS.pnpm[7];
}

/**
 * Chooses the package manager from package.json's "packageManager" field and the files present
 * (`files`: name -> contents, of the lockfiles and CONFIG_FILES there are). `warn` gets what the
 * user should know (two lockfiles).
 */
export function choosePackageManager(packageManagerField: unknown, files: Record<string, string>, warn: (msg: string) => void = () => {}): PackageManager {
  const present = (Object.keys(LOCKFILES) as PackageManagerName[]).filter((pm) => LOCKFILES[pm].some((f) => files[f] !== undefined));
  const lockOf = (pm: PackageManagerName) => LOCKFILES[pm].find((f) => files[f] !== undefined);

  if (packageManagerField !== undefined) {
    const m = typeof packageManagerField === "string" ? /^(npm|pnpm|yarn)@([^+]+)(\+.*)?$/.exec(packageManagerField) : null;
    if (!m || !SEMVER.test(m[2])) {
      throw new BuildFailure(`package.json's "packageManager" is ${JSON.stringify(packageManagerField)}; write it as name@version, e.g. "pnpm@9.12.0", "yarn@1.22.22" or "npm@10.8.2", or remove it`);
    }
    const name = m[1] as PackageManagerName;
    const others = present.filter((pm) => pm !== name);
    if (others.length) warn(`${others.map((pm) => lockOf(pm)).join(", ")} ignored: package.json's "packageManager" says ${name}`);
    // npm: the stack's own (the one Node here comes with); another npm is not installed over it.
    if (name === "npm") return { name, berry: false, lockfile: lockOf("npm"), because: `"packageManager": "${packageManagerField}" (using the stack's npm)` };
    return { name, version: m[2], berry: name === "yarn" && Number(m[2].split(".")[0]) >= 2, lockfile: lockOf(name), because: `"packageManager": "${packageManagerField}"` };
  }

  if (present.length > 1) {
    warn(`several lockfiles (${present.map((pm) => lockOf(pm)).join(", ")}): using ${lockOf(present[0])}; delete the others, or name one in package.json's "packageManager"`);
  }
  switch (present[0]) {
    case "pnpm": {
      const lockfile = lockOf("pnpm")!;
      return { name: "pnpm", version: pnpmForLockfile(files[lockfile]), berry: false, lockfile, because: lockfile };
    }
    case "yarn": {
      const v1 = /^# yarn lockfile v1/m.test(files["yarn.lock"]) || !/^__metadata:/m.test(files["yarn.lock"]);
      return { name: "yarn", version: v1 ? DEFAULT_VERSIONS.yarn1 : DEFAULT_VERSIONS.berry, berry: !v1, lockfile: "yarn.lock", because: `yarn.lock (${v1 ? "Yarn 1" : "Yarn 2+"})` };
    }
    case "npm":
      return { name: "npm", berry: false, lockfile: lockOf("npm"), because: lockOf("npm")! };
    default:
      return { name: "npm", berry: false, because: "no lockfile" };
  }
}

/** Where pnpm or Yarn is installed (npm's global prefix for that install). */
export const MANAGER_PREFIX = "/app/.paas-pm";
/** The PATH of build steps and of the app's image: the installed manager first. */
export const PATH_WITH_MANAGER = `${MANAGER_PREFIX}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;

/** Caches go to /tmp (removed when the step ends): never into a layer. */
const CACHE_ENV: Record<PackageManagerName, Record<string, string>> = {
  npm: {},
  pnpm: { npm_config_store_dir: "/tmp/.pnpm-store", npm_config_update_notifier: "false" },
  yarn: { YARN_CACHE_FOLDER: "/tmp/.yarn-cache", YARN_ENABLE_GLOBAL_CACHE: "false", YARN_ENABLE_TELEMETRY: "0", YARN_ENABLE_PROGRESS_BARS: "false", YARN_ENABLE_INLINE_BUILDS: "true", YARN_IGNORE_PATH: "false" },
};

/** Whether a Yarn 2+ project keeps Plug'n'Play (its .yarnrc.yml says `nodeLinker: pnp`). */
export function usesPnp(pm: PackageManager, files: Record<string, string>): boolean {
  return pm.berry && /^nodeLinker:\s*["']?pnp["']?\s*$/m.test(files[".yarnrc.yml"] ?? "");
}

/**
 * The env of the install and build steps. Yarn 2+ reads no npm settings: it gets the registry
 * (`registry`: npm's, from package-indexes.ts) in its own variable, and installs into
 * node_modules unless the project's .yarnrc.yml asks for Plug'n'Play.
 */
export function packageManagerEnv(pm: PackageManager, files: Record<string, string>, registry: string | undefined): Record<string, string> {
  const env: Record<string, string> = { ...CACHE_ENV[pm.name], ...(pm.name === "npm" ? {} : { PATH: PATH_WITH_MANAGER }) };
  if (pm.berry) {
    if (registry) env.YARN_NPM_REGISTRY_SERVER = registry;
    if (!/^nodeLinker:/m.test(files[".yarnrc.yml"] ?? "")) env.YARN_NODE_LINKER = "node-modules";
  }
  return env;
}

/** Shell lines that install the package manager itself (none for npm). */
export function installManager(pm: PackageManager): string[] {
  if (pm.name === "npm") return [];
  const pkg = pm.name === "pnpm" ? `pnpm@${pm.version}` : pm.berry ? `@yarnpkg/cli-dist@${pm.version}` : `yarn@${pm.version}`;
  return [`echo '-----> Installing ${pm.name} ${pm.version} (${pm.because})'`, `npm install --global --prefix ${MANAGER_PREFIX} --no-progress --loglevel=error ${pkg}`];
}

/** The install command: from the lockfile exactly when there is one. */
export function installCommand(pm: PackageManager): string {
  const locked = pm.lockfile !== undefined;
  switch (pm.name) {
    case "npm":
      return locked ? "npm ci" : "npm install";
    case "pnpm":
      return locked ? "pnpm install --frozen-lockfile" : "pnpm install";
    case "yarn":
      if (pm.berry) return locked ? "yarn install --immutable" : "yarn install";
      return locked ? "yarn install --frozen-lockfile --non-interactive" : "yarn install --non-interactive";
  }
}

/** Runs a package.json script. */
export const runScript = (pm: PackageManager, script: string) => (pm.name === "npm" ? `npm run ${script}` : `${pm.name} run ${script}`);

/** Removes the devDependencies from an installed node_modules. */
export function pruneCommand(pm: PackageManager): string {
  switch (pm.name) {
    case "npm":
      return "npm prune --omit=dev --no-progress";
    case "pnpm":
      return "pnpm prune --prod";
    case "yarn":
      // Yarn 1 has no prune: its production install removes the rest (the cache went with the
      // dependencies' step, so what it keeps is fetched again).
      if (pm.berry) return "yarn workspaces focus --all --production";
      return `yarn install --production${pm.lockfile ? " --frozen-lockfile" : ""} --non-interactive --ignore-scripts`;
  }
}
