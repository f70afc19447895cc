/**
 * Python: Debian's python3 with a virtualenv in /app/.venv holding the app's requirements,
 * built in the build image (compilers, python3-dev: C extensions build from their sdists)
 * in a layer of its own cached by the requirements' hash (like Node's dependencies), then
 * the source on top; the result runs on the run image, without the compilers.
 *
 *   stack/python-build + requirements.txt, or a lock's pinned list (+ the local packages they name)
 *     -> python3 -m venv, pip install -r                                => cache/<app>/python-venv:<hash>
 *   venv image + source (without .venv)  [-> pip install . for a pyproject-only app,
 *                                            pip install --no-deps . for a locked package project]
 *     => cache/<app>/python-built:<build>, rebased from stack/python-build onto stack/python
 *     => app/<app>:<build>
 *
 * `.python-version` or `runtime.txt` (python-3.11.2) is checked against the stack's Python
 * (Debian's, the one version here). Packages come from pip's indexes as the host has them
 * configured (package-indexes.ts). Which file decides what is installed (requirements.txt,
 * Pipfile.lock, poetry.lock, uv.lock, pyproject.toml) and a lock's conversion: python-locks.ts.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { APP_PORT, BuildFailure, findImage, finalImageName, pipIndexes, pruneCache, readIfExists, runStep, sha256, shellCmd, tarOfDir, tarOfFiles, type BuildContext, type BuildOutput } from "./context.ts";
import type { Detection } from "./detect.ts";
import { describePlan, pipReason, pythonInstallPlan } from "./python-locks.ts";

export const RUN_STACK = "stack/python";
export const BUILD_STACK = "stack/python-build";
const VENV = "/app/.venv";
/** A lock's packages as requirements files for the venv step (removed by it; pip reads paths relative to /app). */
const LOCKED = "/app/.paas-locked-requirements.txt";
const DIRECT = "/app/.paas-direct-requirements.txt";
/** pip's cache and version check stay out of the image and off the network. */
const PIP_ENV = { PIP_NO_CACHE_DIR: "1", PIP_DISABLE_PIP_VERSION_CHECK: "1", PYTHONDONTWRITEBYTECODE: "1" };
const RUN_ENV = { VIRTUAL_ENV: VENV, PATH: `${VENV}/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`, PYTHONUNBUFFERED: "1" };

/**
 * The Python version the app asks for (.python-version, else runtime.txt), checked against
 * the stack's: "3.11" and "3.11.2" match 3.11.2; anything else is refused naming the one here.
 */
export function checkPythonVersion(files: { pythonVersion: string | null; runtimeTxt: string | null }, have: string): string | undefined {
  const firstLine = (t: string) => t.split("\n").map((l) => l.trim()).find((l) => l && !l.startsWith("#"));
  const [file, asked] = files.pythonVersion !== null ? [".python-version", firstLine(files.pythonVersion)] : files.runtimeTxt !== null ? ["runtime.txt", firstLine(files.runtimeTxt)] : [];
  if (!file || !asked) return undefined;
  const version = asked.replace(/^python-?/i, "");
  if (!/^\d+(\.\d+){0,2}$/.test(version)) {
    throw new BuildFailure(`${file} says "${asked}", which is not a Python version; write one like 3.11${file === "runtime.txt" ? " (python-3.11)" : ""}`);
  }
  const haveParts = have.split(".");
  if (!version.split(".").every((p, i) => p === haveParts[i])) {
    const minor = haveParts.slice(0, 2).join(".");
    throw new BuildFailure(`${file} asks for Python ${version}, but this platform has Python ${have} only (Debian's); ask for ${minor} or remove ${file}`);
  }
  return version;
}

/** Local paths a requirements file installs from (./vendor/pkg, -e ../lib, file:./x): they go into the venv step too. */
export function localRequirements(requirements: string): string[] {
  const out: string[] = [];
  for (const raw of requirements.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    const m = /^(?:-e\s+|--editable[=\s]+)?(?:file:)?(\.{1,2}\/[^\s;\[]*)/.exec(line);
    if (m) out.push(path.posix.normalize(m[1]).replace(/\/+$/, ""));
  }
  return out;
}

/** A hash of the files below `dir` (names, modes, contents): a change to a local package is a new venv. */
function hashTree(dir: string): string {
  const h = createHash("sha256");
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st) return "missing";
  if (st.isFile()) return h.update(fs.readFileSync(dir)).digest("hex");
  for (const rel of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const p = path.join(dir, rel);
    const s = fs.lstatSync(p);
    h.update(`${rel}\0${s.mode}\0`);
    if (s.isFile()) h.update(fs.readFileSync(p));
  }
  return h.digest("hex");
}

export async function buildPython(ctx: BuildContext, detection: Detection): Promise<BuildOutput> {
  const { log } = ctx;
  const stack = await ctx.agent.image(BUILD_STACK);
  const have = stack.config.env.PYTHON_VERSION;
  const asked = have
    ? checkPythonVersion({ pythonVersion: await readIfExists(path.join(ctx.dir, ".python-version")), runtimeTxt: await readIfExists(path.join(ctx.dir, "runtime.txt")) }, have)
    : undefined;
  if (have) log.step(`Using Python ${have}${asked ? ` (asked for ${asked})` : ""}`);
  const indexes = await pipIndexes(ctx);
  const read = (f: string) => readIfExists(path.join(ctx.dir, f));
  const requirements = await read("requirements.txt");
  const plan = pythonInstallPlan({
    requirements,
    pipfile: await read("Pipfile"),
    pipfileLock: await read("Pipfile.lock"),
    pyproject: await read("pyproject.toml"),
    poetryLock: await read("poetry.lock"),
    uvLock: await read("uv.lock"),
  });
  if (plan.ignored.length) log.info(`${plan.source} decides what is installed; ${plan.ignored.join(" and ")} ${plan.ignored.length > 1 ? "are" : "is"} not used`);
  const fromLock = plan.source !== null && plan.source !== "requirements.txt" && plan.source !== "pyproject.toml";
  const hasReqs = requirements !== null && requirements.split("\n").some((l) => l.trim() && !l.trim().startsWith("#"));

  const source = fromLock ? plan.source! : "requirements.txt";
  const local = localRequirements(fromLock ? plan.direct : (requirements ?? ""));
  for (const rel of local) {
    const abs = path.resolve(ctx.dir, rel);
    if (!abs.startsWith(ctx.dir + path.sep)) throw new BuildFailure(`${source} installs ${rel}, which is outside the pushed tree; vendor it into the repository`);
    if (!fs.existsSync(abs)) throw new BuildFailure(`${source} installs ${rel}, which is not in the pushed tree`);
  }
  const installed = fromLock ? `${plan.source}\0${plan.locked}\0${plan.direct}` : (requirements ?? "");
  const hash = sha256(stack.id, installed, ...local.flatMap((rel) => [rel, hashTree(path.resolve(ctx.dir, rel))]));
  const venvName = `cache/${ctx.app.name}/python-venv:${hash}`;
  if (await findImage(ctx, venvName)) {
    log.step(`Reusing the virtualenv (${fromLock ? plan.source : "requirements"} unchanged)`);
  } else {
    log.step(fromLock ? describePlan(plan) : hasReqs ? "Installing requirements into a virtualenv" : "Creating a virtualenv (no requirements)");
    const pip = `${VENV}/bin/pip`;
    const script = ["set -e", `python3 -m venv ${VENV}`];
    if (fromLock) {
      // --no-deps: the lock is the whole set, as pipenv, Poetry and uv install it; pip check says if it is not
      if (plan.locked) script.push(`${pip} install --no-deps${plan.hashed ? " --require-hashes" : ""} -r ${LOCKED}`);
      if (plan.direct) script.push(`${pip} install --no-deps -r ${DIRECT}`);
      script.push(`rm -f ${LOCKED} ${DIRECT}`, `check=$(${pip} check 2>&1) || printf 'Warning: the packages ${plan.source} pins do not fit together (pip check):\\n%s\\n' "$check"`);
    } else if (hasReqs) script.push(`${pip} install -r requirements.txt`);
    const pipOutput: string[] = [];
    await runStep(ctx, {
      image: BUILD_STACK,
      cmd: ["/bin/sh", "-c", script.join("\n")],
      env: PIP_ENV,
      workdir: "/app",
      archives: [
        { dir: "/app", tar: () => tarOfFiles(fromLock ? { [path.basename(LOCKED)]: plan.locked, [path.basename(DIRECT)]: plan.direct } : { "requirements.txt": requirements ?? "" }) },
        // the local packages it names, at their places (their parents made by the tar)
        ...local.map((rel) => ({ dir: "/app", tar: () => tarOfDir(ctx.dir, (p) => !(p === rel || p.startsWith(`${rel}/`) || rel.startsWith(`${p}/`))) })),
      ],
      onLine: (l) => {
        // pip's reason is at the end of its output
        if (fromLock && pipOutput.push(l.line) > 200) pipOutput.shift();
      },
      commit: { name: venvName },
      purpose: "python-venv",
      indexes,
    }).catch((err) => {
      // pip's own reason (a version the index does not have, a hash that does not match) as the push's
      const reason = fromLock && err instanceof BuildFailure && !ctx.deadline.aborted ? pipReason(pipOutput) : undefined;
      if (!reason) throw err;
      throw new BuildFailure(`pip could not install what ${plan.source} pins: ${reason}`);
    });
    await pruneCache(ctx, "python-venv", venvName);
  }

  // A pyproject-only app is itself the package: install it with its source (after a lock, without its dependencies).
  const selfCmd = plan.installSelf === "with-deps" ? "pip install ." : plan.installSelf === "no-deps" ? "pip install --no-deps ." : undefined;
  const skip = (rel: string) => [".venv", ".git", "__pycache__"].some((d) => rel === d || rel.startsWith(d + "/"));
  log.step(selfCmd ? `Installing the app (${selfCmd})` : "Adding the app");
  const built = `cache/${ctx.app.name}/python-built:${ctx.buildId}`;
  await runStep(ctx, {
    image: venvName,
    cmd: selfCmd ? ["/bin/sh", "-c", `set -e\n${VENV}/bin/${selfCmd}`] : undefined,
    env: { ...PIP_ENV, ...RUN_ENV },
    workdir: "/app",
    archives: [{ dir: "/app", tar: () => tarOfDir(ctx.dir, skip) }],
    commit: { name: built, config: { cmd: shellCmd(detection.processTypes.web), workdir: "/app", env: RUN_ENV, exposedPorts: [APP_PORT] } },
    purpose: "python-app",
    indexes,
  });
  const name = finalImageName(ctx);
  try {
    log.step("Moving the app onto the run image (stack/python: no compilers)");
    const image = await ctx.agent.rebaseImage({ image: built, from: BUILD_STACK, onto: RUN_STACK, name });
    return { imageRef: name, image, processTypes: detection.processTypes };
  } finally {
    await ctx.agent.removeImage(built).catch(() => {});
  }
}
