/**
 * Builder detection: which builder builds this source tree, and its process types.
 * The order matters (first match wins): Dockerfile, Node, Python, static. An app can
 * force one with the config var PAAS_BUILDER. The error lists what we support.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { PushError } from "../pipeline/push-error.ts";
import { readIfExists } from "./context.ts";
import { parseProcfile, type ProcessTypes } from "./procfile.ts";

export class DetectError extends PushError {}

export const BUILDERS = ["dockerfile", "node", "python", "static"] as const;
export type BuilderName = (typeof BUILDERS)[number];

export const BUILDER_TITLES: Record<BuilderName, string> = {
  dockerfile: "Dockerfile",
  node: "Node.js",
  python: "Python",
  static: "Static site",
};

export interface Detection {
  builder: BuilderName;
  /** From the Procfile, plus the builder's default web process (a Dockerfile's comes from its image). */
  processTypes: ProcessTypes;
  /** Why this builder: the file that decided, or the config var. */
  reason: string;
  /**
   * A Node app whose build makes a static site: a "build" script, no "start" script and no
   * web process in a Procfile (as a Vite or Create React App project). node.ts serves its
   * output (static.json's root, else dist/, build/, out/ or public/) with the static server.
   */
  staticBuild?: boolean;
}

export const SUPPORTED =
  "a Dockerfile, a Node.js app (package.json), a Python app (requirements.txt, Pipfile or pyproject.toml), " +
  "a static site (index.html, static.json or a public/ folder)";

const isDir = async (p: string) => (await fs.stat(p).catch(() => null))?.isDirectory() ?? false;
const isFile = async (p: string) => (await fs.stat(p).catch(() => null))?.isFile() ?? false;

/** Picks the builder; `forced` is the app's PAAS_BUILDER config var, when set. */
export async function detect(dir: string, forced?: string): Promise<Detection> {
  const procfileText = await readIfExists(path.join(dir, "Procfile"));
  const procfile = procfileText === null ? {} : parseProcfile(procfileText);

  let builder: BuilderName | undefined;
  let reason = "";
  if (forced !== undefined && forced.trim() !== "") {
    const f = forced.trim().toLowerCase();
    if (!(BUILDERS as readonly string[]).includes(f)) {
      throw new DetectError(`PAAS_BUILDER is "${forced}", which is not a builder; use one of ${BUILDERS.join(", ")} (or unset it to detect)`);
    }
    builder = f as BuilderName;
    reason = "PAAS_BUILDER";
  } else if (await isFile(path.join(dir, "Dockerfile"))) {
    [builder, reason] = ["dockerfile", "Dockerfile"];
  } else if (await isFile(path.join(dir, "package.json"))) {
    [builder, reason] = ["node", "package.json"];
  } else if (await isFile(path.join(dir, "requirements.txt"))) {
    [builder, reason] = ["python", "requirements.txt"];
  } else if (await isFile(path.join(dir, "Pipfile.lock"))) {
    [builder, reason] = ["python", "Pipfile.lock"];
  } else if (await isFile(path.join(dir, "Pipfile"))) {
    [builder, reason] = ["python", "Pipfile"];
  } else if (await isFile(path.join(dir, "pyproject.toml"))) {
    [builder, reason] = ["python", "pyproject.toml"];
  } else if (await isFile(path.join(dir, "index.html"))) {
    [builder, reason] = ["static", "index.html"];
  } else if (await isFile(path.join(dir, "static.json"))) {
    [builder, reason] = ["static", "static.json"];
  } else if (await isDir(path.join(dir, "public"))) {
    [builder, reason] = ["static", "public/"];
  }
  if (!builder) throw new DetectError(`could not detect how to build this app; supported: ${SUPPORTED}`);

  const processTypes: ProcessTypes = { ...procfile };
  let staticBuild = false;
  if (!processTypes.web) {
    const web = await defaultWeb(dir, builder);
    if (web) processTypes.web = web;
    else if (builder === "node" && (await packageScripts(dir)).build) {
      processTypes.web = STATIC_WEB;
      staticBuild = true;
      reason = 'package.json: a static build ("build" script, no "start")';
    }
  }
  if (!processTypes.web && builder !== "dockerfile") throw new DetectError(noWebMessage(builder));
  return { builder, processTypes, reason, ...(staticBuild ? { staticBuild } : {}) };
}

const STATIC_WEB = "node /opt/paas/static-server.mjs";

async function packageScripts(dir: string): Promise<Record<string, string>> {
  const text = await readIfExists(path.join(dir, "package.json"));
  if (text === null) throw new DetectError("PAAS_BUILDER is node but there is no package.json; add one or unset PAAS_BUILDER");
  try {
    return (JSON.parse(text) as { scripts?: Record<string, string> }).scripts ?? {};
  } catch (err) {
    throw new DetectError(`package.json is not valid JSON: ${(err as Error).message}`);
  }
}

function noWebMessage(builder: BuilderName): string {
  if (builder === "node") return 'no web process: add a "start" script to package.json (or a "build" script that makes a static site) or a "web:" line to a Procfile';
  if (builder === "python") return 'no web process: add app.py or main.py, or a "web:" line to a Procfile';
  return 'no web process: add a "web:" line to a Procfile';
}

async function defaultWeb(dir: string, builder: BuilderName): Promise<string | undefined> {
  switch (builder) {
    case "node":
      return (await packageScripts(dir)).start ? "npm start" : undefined;
    case "python": {
      let reqs = "";
      for (const f of ["requirements.txt", "Pipfile", "pyproject.toml"]) reqs += ((await readIfExists(path.join(dir, f))) ?? "") + "\n";
      const hasGunicorn = /(^|["'\s])gunicorn\b/im.test(reqs);
      for (const [file, mod] of [["wsgi.py", "wsgi:application"], ["app.py", "app:app"], ["main.py", "main:app"]] as const) {
        if (!(await isFile(path.join(dir, file)))) continue;
        if (hasGunicorn) return `gunicorn --bind 0.0.0.0:$PORT ${mod}`;
        if (file !== "wsgi.py") return `python ${file}`;
      }
      return undefined;
    }
    case "static":
      return STATIC_WEB;
    case "dockerfile":
      return undefined;
  }
}
