/**
 * What a Python app installs, and from which file: requirements.txt, else Pipfile.lock, else
 * poetry.lock, else uv.lock, else pyproject.toml (`pip install .`). pipenv, Poetry and uv are
 * not here (nor in the index), so a lock is converted to a pinned requirements list that pip
 * installs as the tools themselves do: the lock's main packages only (Pipfile.lock's "default",
 * Poetry's "main" group, uv's project dependencies without dev groups or extras), each
 * `name==version` with its `--hash=sha256:...` lines (pip's hash-checking mode, as Heroku's),
 * `--no-deps` (the lock is the whole set; nothing is resolved anew). Entries from a path, VCS or
 * URL cannot be hash-checked: they go in a second list, installed after.
 *
 *   const plan = pythonInstallPlan({ requirements, pipfile, pipfileLock, pyproject, poetryLock, uvLock });
 *   plan.locked / plan.direct  -> requirements files for the venv step (python.ts)
 *   plan.installSelf           -> "no-deps": `pip install --no-deps .` with the source (a package project)
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { BuildFailure } from "./context.ts";

export type PythonSource = "requirements.txt" | "Pipfile.lock" | "poetry.lock" | "uv.lock" | "pyproject.toml";
export type LockFile = "Pipfile.lock" | "poetry.lock" | "uv.lock";

export interface PythonFiles {
  requirements: string | null;
  pipfile: string | null;
  pipfileLock: string | null;
  pyproject: string | null;
  poetryLock: string | null;
  uvLock: string | null;
}

export interface InstallPlan {
  /** The file that decides what is installed; null: nothing to install (an empty virtualenv). */
  source: PythonSource | null;
  /** For a lock: the pinned packages as a requirements file (with hashes when `hashed`). */
  locked: string;
  /** For a lock: entries from a path, VCS or URL, installed after the pinned ones. */
  direct: string;
  /** How many packages the lock installs (pinned + direct). */
  packages: number;
  /** Every pinned package has hashes: pip checks them (--require-hashes). */
  hashed: boolean;
  /** Pinned packages the lock has no hashes for (why `hashed` is false). */
  unhashed: string[];
  /** The app's own package: "with-deps" (a pyproject-only app: pip install .), "no-deps" (after a lock), "none". */
  installSelf: "none" | "with-deps" | "no-deps";
  /** Dependency files present but not used (a lower choice), for the log. */
  ignored: string[];
}

/** A locked package: `name==version`, pip evaluates the marker. */
interface Pinned {
  name: string;
  version: string;
  marker?: string;
  hashes: string[];
}

interface Converted {
  pinned: Pinned[];
  /** requirement lines: `./vendor/x`, `-e ./lib`, `name @ git+https://...@commit`, `name @ https://...` */
  direct: string[];
  /** The lock installs the project itself (a package, or Pipfile's `-e .`). */
  self: boolean;
}

const RELOCK: Record<LockFile, string> = { "Pipfile.lock": "pipenv lock", "poetry.lock": "poetry lock", "uv.lock": "uv lock" };

/** PEP 503's normalized name: the form pip, Poetry and uv compare. */
export const normalizeName = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-");

export function pythonInstallPlan(files: PythonFiles): InstallPlan {
  const present = (
    [
      ["requirements.txt", files.requirements],
      ["Pipfile.lock", files.pipfileLock],
      ["poetry.lock", files.poetryLock],
      ["uv.lock", files.uvLock],
    ] as const
  ).filter(([, text]) => text !== null);
  const empty: InstallPlan = { source: null, locked: "", direct: "", packages: 0, hashed: false, unhashed: [], installSelf: "none", ignored: [] };
  if (present[0]?.[0] === "requirements.txt") return { ...empty, source: "requirements.txt", ignored: present.slice(1).map(([name]) => name) };
  // (read only when it counts: pip install -r never reads it)
  const pyproject = files.pyproject === null ? undefined : parsePyproject(files.pyproject);

  if (present.length > 0) {
    const [source] = present[0];
    const ignored = present.slice(1).map(([name]) => name);
    const converted =
      source === "Pipfile.lock"
        ? pipfileLockPackages(files.pipfileLock!)
        : source === "poetry.lock"
          ? poetryLockPackages(files.poetryLock!, pyproject)
          : uvLockPackages(files.uvLock!, pyproject);
    return { ...render(converted), source, ignored };
  }
  if (files.pipfile !== null) {
    throw new BuildFailure("Pipfile has no Pipfile.lock beside it: run `pipenv lock` and commit Pipfile.lock (the build installs the locked versions, as `pipenv install --deploy` does)");
  }
  if (pyproject && isPoetryProject(pyproject)) {
    throw new BuildFailure("pyproject.toml is a Poetry project ([tool.poetry]) but poetry.lock is not in the push: run `poetry lock` and commit poetry.lock");
  }
  if (files.pyproject !== null) return { ...empty, source: "pyproject.toml", installSelf: "with-deps" };
  return empty;
}

/** The line the build log shows: "Installing from Pipfile.lock (12 packages, hashes checked)". */
export function describePlan(plan: InstallPlan): string {
  const n = `${plan.packages} package${plan.packages === 1 ? "" : "s"}`;
  const direct = plan.direct ? `; ${plan.direct.split("\n").filter(Boolean).length} from a path, VCS or URL, not hash-checked` : "";
  const hashes = plan.hashed ? "hashes checked" : plan.unhashed.length ? `hashes not checked: the lock has none for ${plan.unhashed.slice(0, 5).join(", ")}${plan.unhashed.length > 5 ? ", ..." : ""}` : "";
  return `Installing from ${plan.source} (${[n, hashes].filter(Boolean).join(", ")}${direct})`;
}

// ---------- rendering ----------

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+!_-]*$/;
const HASH = /^(sha256|sha384|sha512):[0-9a-f]{32,128}$/;

function render(c: Converted): Omit<InstallPlan, "source" | "ignored"> {
  // one order whatever the lock's: the venv's cache key is this text
  const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const pinned = [...c.pinned].sort((a, b) => byText(a.name, b.name) || byText(a.version, b.version));
  const unhashed = pinned.filter((p) => p.hashes.length === 0).map((p) => p.name);
  const hashed = pinned.length > 0 && unhashed.length === 0;
  const locked = pinned
    .map((p) => {
      const line = `${p.name}==${p.version}${p.marker ? ` ; ${p.marker}` : ""}`;
      return hashed ? [line, ...p.hashes.map((h) => `    --hash=${h}`)].join(" \\\n") : line;
    })
    .join("\n");
  return {
    locked: locked ? `${locked}\n` : "",
    direct: c.direct.length ? `${c.direct.join("\n")}\n` : "",
    packages: pinned.length + c.direct.length,
    hashed,
    unhashed,
    installSelf: c.self ? "no-deps" : "none",
  };
}

/** A pinned entry, its fields checked: they become lines of a requirements file. */
function pin(file: LockFile, name: string, version: unknown, marker: unknown, hashes: unknown[]): Pinned {
  const bad = (what: string) => new BuildFailure(`${file}: ${what}; run \`${RELOCK[file]}\` again and commit ${file}`);
  if (!NAME.test(name)) throw bad(`"${name}" is not a package name`);
  if (typeof version !== "string" || !VERSION.test(version)) throw bad(`package ${name} has no version the lock pins (${JSON.stringify(version ?? null)})`);
  if (marker !== undefined && (typeof marker !== "string" || /[\r\n\\]/.test(marker))) throw bad(`package ${name} has a marker that is not one line of text`);
  const hs = hashes.map((h) => (typeof h === "string" ? h.trim() : ""));
  const wrong = hs.find((h) => !HASH.test(h));
  if (wrong !== undefined) throw bad(`package ${name} has a hash that is not algorithm:hex ("${wrong}")`);
  return { name, version, ...(marker ? { marker: marker as string } : {}), hashes: [...new Set(hs)] };
}

/** A path the lock installs from, as a requirement line pip reads relative to /app. */
function localLine(file: LockFile, name: string, p: string, editable: boolean): string {
  const rel = p.replace(/^file:(\/\/)?/, "");
  if (rel.startsWith("/") || rel.split(/[\\/]/).includes("..") || /\s/.test(rel)) {
    throw new BuildFailure(`${file} installs ${name} from ${p}, which is outside the pushed tree; vendor it into the repository and lock again`);
  }
  return `${editable ? "-e " : ""}./${rel.replace(/^\.\//, "")}`;
}

function urlLine(file: LockFile, name: string, url: string): string {
  if (!/^(git\+)?(https?|ssh|git|file):\/\/\S+$/.test(url)) throw new BuildFailure(`${file}: package ${name} comes from "${url}", which is not a URL pip can install`);
  return `${name} @ ${url}`;
}

// ---------- Pipfile.lock ----------

interface PipfileEntry {
  version?: string;
  hashes?: string[];
  markers?: string;
  path?: string;
  file?: string;
  editable?: boolean;
  git?: string;
  ref?: string;
  subdirectory?: string;
}

export function pipfileLockPackages(text: string): Converted {
  let lock: { default?: Record<string, PipfileEntry> };
  try {
    lock = JSON.parse(text);
  } catch (err) {
    throw new BuildFailure(`Pipfile.lock is not valid JSON (${(err as Error).message}): run \`pipenv lock\` and commit Pipfile.lock`);
  }
  if (typeof lock !== "object" || lock === null || Array.isArray(lock)) throw new BuildFailure("Pipfile.lock is not a pipenv lock (no object at its top): run `pipenv lock` and commit Pipfile.lock");
  const out: Converted = { pinned: [], direct: [], self: false };
  // "develop" holds the dev packages: never installed, as `pipenv install --deploy` does
  for (const [name, e] of Object.entries(lock.default ?? {})) {
    if (e.path !== undefined) {
      if (e.path === "." || e.path === "./") out.self = true;
      else out.direct.push(localLine("Pipfile.lock", name, e.path, e.editable === true));
    } else if (e.git !== undefined) {
      const sub = e.subdirectory ? `#subdirectory=${e.subdirectory}` : "";
      out.direct.push(urlLine("Pipfile.lock", name, `${e.git.startsWith("git+") ? e.git : `git+${e.git}`}${e.ref ? `@${e.ref}` : ""}${sub}`));
    } else if (e.file !== undefined) {
      out.direct.push(/^[a-z+]+:\/\//.test(e.file) && !e.file.startsWith("file:") ? urlLine("Pipfile.lock", name, e.file) : localLine("Pipfile.lock", name, e.file, false));
    } else {
      out.pinned.push(pin("Pipfile.lock", name, e.version?.replace(/^==/, ""), e.markers, e.hashes ?? []));
    }
  }
  return out;
}

// ---------- pyproject.toml ----------

interface Pyproject {
  project?: { name?: string; dependencies?: string[] };
  "build-system"?: { "build-backend"?: string; requires?: string[] };
  tool?: { poetry?: { "package-mode"?: boolean; dependencies?: Record<string, unknown> }; uv?: { package?: boolean } };
}

function parsePyproject(text: string): Pyproject {
  try {
    return parseToml(text) as Pyproject;
  } catch (err) {
    throw new BuildFailure(`pyproject.toml is not valid TOML: ${tomlReason(err)}`);
  }
}

const tomlReason = (err: unknown) => (err instanceof TomlError ? `line ${err.line}: ${err.message.split("\n")[0]}` : (err as Error).message);

const isPoetryProject = (p: Pyproject) => p.tool?.poetry !== undefined || /poetry/.test(p["build-system"]?.["build-backend"] ?? "");

function parseLock(file: LockFile, text: string): Record<string, unknown> {
  try {
    return parseToml(text);
  } catch (err) {
    throw new BuildFailure(`${file} is not valid TOML (${tomlReason(err)}): run \`${RELOCK[file]}\` and commit ${file}`);
  }
}

/** The name and extras of a PEP 508 requirement ("uvicorn[standard]>=0.30 ; python_version>'3'"). */
function requirementName(req: string): { name: string; extras: string[] } | undefined {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?/.exec(req);
  return m ? { name: normalizeName(m[1]), extras: (m[2] ?? "").split(",").map((x) => normalizeName(x.trim())).filter(Boolean) } : undefined;
}

// ---------- poetry.lock ----------

interface PoetryPackage {
  name: string;
  version?: string;
  optional?: boolean;
  groups?: string[];
  category?: string;
  markers?: string | Record<string, string>;
  files?: { file?: string; hash?: string }[];
  dependencies?: Record<string, unknown>;
  extras?: Record<string, string[]>;
  source?: { type?: string; url?: string; reference?: string; resolved_reference?: string; subdirectory?: string };
  develop?: boolean;
}

export function poetryLockPackages(text: string, pyproject: Pyproject | undefined): Converted {
  const lock = parseLock("poetry.lock", text) as { package?: PoetryPackage[]; metadata?: { files?: Record<string, { hash?: string }[]> } };
  const packages = lock.package ?? [];
  let main: PoetryPackage[];
  if (packages.some((p) => p.groups !== undefined)) {
    // Poetry 2 (lock 2.1): each package names its groups; optional ones are the project's extras
    main = packages.filter((p) => p.groups?.includes("main") && !p.optional);
  } else if (packages.some((p) => p.category !== undefined)) {
    main = packages.filter((p) => p.category === "main" && !p.optional); // Poetry < 1.5
  } else {
    // Poetry 1.5-1.8 (lock 2.0) says no group: the main dependencies' closure, from pyproject.toml
    if (!pyproject) throw new BuildFailure("poetry.lock needs its pyproject.toml (which packages are the main group): commit pyproject.toml");
    main = poetryClosure(packages, poetryMainDependencies(pyproject));
  }
  const out: Converted = { pinned: [], direct: [], self: false };
  for (const p of main) {
    const marker = typeof p.markers === "string" ? p.markers : p.markers?.main;
    const src = p.source;
    if (src?.type === "directory" || src?.type === "file") {
      if (/^[a-z+]+:\/\//.test(src.url ?? "")) out.direct.push(urlLine("poetry.lock", p.name, src.url!));
      else out.direct.push(localLine("poetry.lock", p.name, src.url ?? "", p.develop === true));
    } else if (src?.type === "git") {
      const sub = src.subdirectory ? `#subdirectory=${src.subdirectory}` : "";
      out.direct.push(urlLine("poetry.lock", p.name, `git+${src.url}@${src.resolved_reference ?? src.reference ?? "HEAD"}${sub}`));
    } else if (src?.type === "url") {
      out.direct.push(urlLine("poetry.lock", p.name, src.url ?? ""));
    } else {
      const files = p.files ?? lock.metadata?.files?.[p.name] ?? [];
      out.pinned.push(pin("poetry.lock", p.name, p.version, marker, files.map((f) => f.hash).filter((h) => h !== undefined)));
    }
  }
  // a package project (not `package-mode = false`, with a build backend): its own code too
  out.self = pyproject !== undefined && pyproject.tool?.poetry?.["package-mode"] !== false && pyproject["build-system"] !== undefined;
  return out;
}

/** The main group's requirements: [tool.poetry.dependencies] (but python) and [project].dependencies. */
function poetryMainDependencies(p: Pyproject): { name: string; extras: string[] }[] {
  const out: { name: string; extras: string[] }[] = [];
  for (const [name, spec] of Object.entries(p.tool?.poetry?.dependencies ?? {})) {
    if (name.toLowerCase() === "python") continue;
    const extras = typeof spec === "object" && spec !== null && Array.isArray((spec as { extras?: string[] }).extras) ? (spec as { extras: string[] }).extras : [];
    out.push({ name: normalizeName(name), extras: extras.map(normalizeName) });
  }
  for (const req of p.project?.dependencies ?? []) {
    const r = requirementName(req);
    if (r) out.push(r);
  }
  return out;
}

/** The packages the roots need, following each package's dependencies (and the extras asked of it). */
function poetryClosure(packages: PoetryPackage[], roots: { name: string; extras: string[] }[]): PoetryPackage[] {
  const byName = new Map(packages.map((p) => [normalizeName(p.name), p]));
  const seen = new Map<string, Set<string>>();
  const queue = [...roots];
  while (queue.length) {
    const { name, extras } = queue.shift()!;
    const pkg = byName.get(name);
    if (!pkg) continue;
    const had = seen.get(name);
    const fresh = extras.filter((x) => !had?.has(x));
    if (had && fresh.length === 0) continue;
    seen.set(name, new Set([...(had ?? []), ...extras]));
    const wanted = new Set<string>();
    for (const x of extras) for (const req of pkg.extras?.[x] ?? []) wanted.add(requirementName(req)?.name ?? "");
    for (const [dep, spec] of Object.entries(pkg.dependencies ?? {})) {
      const specs = (Array.isArray(spec) ? spec : [spec]) as ({ optional?: boolean; extras?: string[] } | string)[];
      const optional = specs.every((s) => typeof s === "object" && s.optional === true);
      if (optional && !wanted.has(normalizeName(dep))) continue;
      const depExtras = specs.flatMap((s) => (typeof s === "object" ? (s.extras ?? []) : []));
      queue.push({ name: normalizeName(dep), extras: depExtras.map(normalizeName) });
    }
  }
  return packages.filter((p) => seen.has(normalizeName(p.name)));
}

// ---------- uv.lock ----------

interface UvDependency {
  name: string;
  version?: string;
  extra?: string[];
  marker?: string;
}

interface UvPackage {
  name: string;
  version?: string;
  source?: { registry?: string; virtual?: string; editable?: string; directory?: string; path?: string; git?: string; url?: string };
  dependencies?: UvDependency[];
  "optional-dependencies"?: Record<string, UvDependency[]>;
  sdist?: { hash?: string; url?: string; path?: string };
  wheels?: { hash?: string }[];
}

/** More distinct conditions than this on one package: it is installed whatever the markers (pip ignores none). */
const MAX_CONDITIONS = 16;

export function uvLockPackages(text: string, pyproject: Pyproject | undefined): Converted {
  const lock = parseLock("uv.lock", text) as { package?: UvPackage[] };
  const packages = lock.package ?? [];
  const projectName = pyproject?.project?.name ? normalizeName(pyproject.project.name) : undefined;
  const isLocalRoot = (p: UvPackage) => p.source?.virtual === "." || p.source?.editable === ".";
  const root = packages.find((p) => isLocalRoot(p) && (projectName === undefined || normalizeName(p.name) === projectName)) ?? packages.find(isLocalRoot);
  if (!root) throw new BuildFailure("uv.lock has no entry for the project itself (source = { virtual = \".\" } or { editable = \".\" }): run `uv lock` and commit uv.lock");
  const key = (p: UvPackage) => `${normalizeName(p.name)}@${p.version ?? ""}`;
  const byName = new Map<string, UvPackage[]>();
  for (const p of packages) byName.set(normalizeName(p.name), [...(byName.get(normalizeName(p.name)) ?? []), p]);
  const target = (d: UvDependency) => {
    const all = byName.get(normalizeName(d.name)) ?? [];
    return d.version === undefined ? all[0] : all.find((p) => p.version === d.version);
  };

  // Each package's conditions: conjunctions of the dependency markers on a path from the root
  // ([] = always). What uv installs on this platform is what pip installs from those markers.
  const conditions = new Map<string, string[][]>();
  const extrasDone = new Map<string, Set<string>>();
  const queue: { pkg: UvPackage; cond: string[]; extras: string[] }[] = [{ pkg: root, cond: [], extras: [] }];
  while (queue.length) {
    const { pkg, cond, extras } = queue.shift()!;
    const k = key(pkg);
    const conds = conditions.get(k) ?? [];
    const done = extrasDone.get(k) ?? new Set<string>();
    // (a ∧ b) ∨ a is a: a condition that includes another's markers adds nothing
    const within = (a: string[], b: string[]) => a.every((x) => b.includes(x));
    const newCond = !conds.some((c) => within(c, cond));
    const newExtras = extras.filter((x) => !done.has(x));
    if (!newCond && newExtras.length === 0) continue;
    if (newCond) {
      if (cond.length === 0 || conds.length >= MAX_CONDITIONS) conditions.set(k, [[]]);
      else conditions.set(k, [...conds.filter((c) => !within(cond, c)), cond]);
    }
    for (const x of newExtras) done.add(x);
    extrasDone.set(k, done);
    const deps = [
      ...(newCond ? (pkg.dependencies ?? []) : []),
      ...(newCond ? [...done] : newExtras).flatMap((x) => pkg["optional-dependencies"]?.[x] ?? []),
    ];
    // (the root's dev-dependencies and optional-dependencies are not followed: `uv sync --no-default-groups`)
    for (const d of deps) {
      const t = target(d);
      if (!t) throw new BuildFailure(`uv.lock: ${pkg.name} depends on ${d.name}${d.version ? ` ${d.version}` : ""}, which the lock does not have: run \`uv lock\` and commit uv.lock`);
      const next = d.marker ? [...new Set([...cond, d.marker])].sort() : cond;
      queue.push({ pkg: t, cond: next, extras: (d.extra ?? []).map(normalizeName) });
    }
  }

  const out: Converted = { pinned: [], direct: [], self: root.source?.editable === "." && pyproject?.tool?.uv?.package !== false };
  for (const pkg of packages) {
    const conds = conditions.get(key(pkg));
    if (!conds || pkg === root) continue;
    const marker = conds.some((c) => c.length === 0) ? undefined : conds.map((c) => c.map((m) => (c.length > 1 ? `(${m})` : m)).join(" and ")).map((c) => (conds.length > 1 ? `(${c})` : c)).join(" or ");
    const src = pkg.source ?? {};
    if (src.virtual !== undefined) continue; // a workspace member that is no package: its dependencies only
    if (src.editable !== undefined || src.directory !== undefined) {
      // (an editable line takes no marker in pip)
      const editable = src.editable !== undefined;
      const line = localLine("uv.lock", pkg.name, (src.editable ?? src.directory)!, editable);
      out.direct.push(editable ? line : withMarker(line, marker));
    } else if (src.path !== undefined) {
      out.direct.push(withMarker(localLine("uv.lock", pkg.name, src.path, false), marker));
    } else if (src.git !== undefined) {
      // git = "https://host/repo?rev=main&subdirectory=x#<commit>"
      const [base, commit] = src.git.split("#");
      const [repo, query = ""] = base.split("?");
      const sub = new URLSearchParams(query).get("subdirectory");
      out.direct.push(withMarker(urlLine("uv.lock", pkg.name, `git+${repo}${commit ? `@${commit}` : ""}${sub ? `#subdirectory=${sub}` : ""}`), marker));
    } else if (src.url !== undefined) {
      out.direct.push(withMarker(urlLine("uv.lock", pkg.name, src.url), marker));
    } else {
      const hashes = [pkg.sdist?.hash, ...(pkg.wheels ?? []).map((w) => w.hash)].filter((h) => h !== undefined);
      out.pinned.push(pin("uv.lock", pkg.name, pkg.version, marker, hashes));
    }
  }
  return out;
}

const withMarker = (line: string, marker: string | undefined) => (marker ? `${line} ; ${marker}` : line);

/**
 * pip's reason for a failed install, from its output lines, short enough for the push's last
 * line: its ERROR lines (the last two), a hash mismatch with the packages it names.
 */
export function pipReason(lines: string[]): string | undefined {
  const errors: string[] = [];
  let mismatch: string[] | undefined;
  for (const line of lines) {
    if (line.startsWith("ERROR: ")) {
      const text = line.slice(7);
      mismatch = /DO NOT MATCH THE HASHES/.test(text) ? [] : undefined;
      errors.push(mismatch ? "the hashes of some packages do not match the lock" : text.slice(0, 300));
    } else if (mismatch) {
      const m = /^\s+(\S+==\S+) from /.exec(line);
      if (m && mismatch.length < 5) {
        mismatch.push(m[1]);
        errors[errors.length - 1] = `the hashes of these packages do not match the lock: ${mismatch.join(", ")}`;
      }
    }
  }
  return errors.length ? errors.slice(-2).join("; ") : undefined;
}
