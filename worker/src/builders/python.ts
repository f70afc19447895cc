/**
 * Python: a virtualenv in /app/.venv with the app's requirements, in a layer of its own
 * cached by the requirements' hash (like Node's dependencies), then the source on top.
 *
 *   stack/python + requirements.txt -> python3 -m venv, pip install -r  => cache/<app>/python-venv:<hash>
 *   venv image + source (without .venv)  [-> pip install . for a pyproject-only app]  => app/<app>:<build>
 */
import path from "node:path";
import { APP_PORT, findImage, finalImageName, pruneCache, readIfExists, runStep, sha256, shellCmd, tarOfDir, tarOfFiles, type BuildContext, type BuildOutput } from "./context.ts";
import type { Detection } from "./detect.ts";

const STACK = "stack/python";
const VENV = "/app/.venv";
/** pip's cache and version check stay out of the image and off the network. */
const PIP_ENV = { PIP_NO_CACHE_DIR: "1", PIP_DISABLE_PIP_VERSION_CHECK: "1", PYTHONDONTWRITEBYTECODE: "1" };
const RUN_ENV = { VIRTUAL_ENV: VENV, PATH: `${VENV}/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`, PYTHONUNBUFFERED: "1" };

export async function buildPython(ctx: BuildContext, detection: Detection): Promise<BuildOutput> {
  const { log } = ctx;
  const stack = await ctx.agent.image(STACK);
  const requirements = await readIfExists(path.join(ctx.dir, "requirements.txt"));
  const pyproject = await readIfExists(path.join(ctx.dir, "pyproject.toml"));
  const hasReqs = requirements !== null && requirements.split("\n").some((l) => l.trim() && !l.trim().startsWith("#"));

  const hash = sha256(stack.id, requirements ?? "");
  const venvName = `cache/${ctx.app.name}/python-venv:${hash}`;
  if (await findImage(ctx, venvName)) {
    log.step("Reusing the virtualenv (requirements unchanged)");
  } else {
    log.step(hasReqs ? "Installing requirements into a virtualenv" : "Creating a virtualenv (no requirements)");
    const script = [
      "set -e",
      "python3 --version",
      `python3 -m venv ${VENV}`,
      hasReqs ? `${VENV}/bin/pip install -r requirements.txt` : "true",
    ].join("\n");
    await runStep(ctx, {
      image: STACK,
      cmd: ["/bin/sh", "-c", script],
      env: PIP_ENV,
      workdir: "/app",
      archives: [{ dir: "/app", tar: () => tarOfFiles({ "requirements.txt": requirements ?? "" }) }],
      commit: { name: venvName },
      purpose: "python-venv",
    });
    await pruneCache(ctx, "python-venv", venvName);
  }

  // A pyproject-only app is itself the package: install it with its source.
  const installSelf = requirements === null && pyproject !== null;
  const skip = (rel: string) => [".venv", ".git", "__pycache__"].some((d) => rel === d || rel.startsWith(d + "/"));
  log.step(installSelf ? "Installing the app (pip install .)" : "Adding the app");
  const name = finalImageName(ctx);
  const image = await runStep(ctx, {
    image: venvName,
    cmd: installSelf ? ["/bin/sh", "-c", `set -e\n${VENV}/bin/pip install .`] : undefined,
    env: { ...PIP_ENV, ...RUN_ENV },
    workdir: "/app",
    archives: [{ dir: "/app", tar: () => tarOfDir(ctx.dir, skip) }],
    commit: { name, config: { cmd: shellCmd(detection.processTypes.web), workdir: "/app", env: RUN_ENV, exposedPorts: [APP_PORT] } },
    purpose: "python-app",
  });
  return { imageRef: name, image: image!, processTypes: detection.processTypes };
}
