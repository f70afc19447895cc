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
}

export const SUPPORTED =
  "a Dockerfile, a Node.js app (package.json), a Python app (requirements.txt or pyproject.toml), " +
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
  if (!processTypes.web) {
    const web = await defaultWeb(dir, builder);
    if (web) processTypes.web = web;
  }
  if (!processTypes.web && builder !== "dockerfile") throw new DetectError(noWebMessage(builder));
  return { builder, processTypes, reason };
}

function noWebMessage(builder: BuilderName): string {
  if (builder === "node") return 'no web process: add a "start" script to package.json or a "web:" line to a Procfile';
  if (builder === "python") return 'no web process: add app.py or main.py, or a "web:" line to a Procfile';
  return 'no web process: add a "web:" line to a Procfile';
}

async function defaultWeb(dir: string, builder: BuilderName): Promise<string | undefined> {
  switch (builder) {
    case "node": {
      const text = await readIfExists(path.join(dir, "package.json"));
      if (text === null) throw new DetectError("PAAS_BUILDER is node but there is no package.json; add one or unset PAAS_BUILDER");
      let pkg: { scripts?: Record<string, string> };
      try {
        pkg = JSON.parse(text);
      } catch (err) {
        throw new DetectError(`package.json is not valid JSON: ${(err as Error).message}`);
      }
      return pkg.scripts?.start ? "npm start" : undefined;
    }
    case "python": {
      const reqs = ((await readIfExists(path.join(dir, "requirements.txt"))) ?? "") + ((await readIfExists(path.join(dir, "pyproject.toml"))) ?? "");
      const hasGunicorn = /(^|["'\s])gunicorn\b/im.test(reqs);
      for (const [file, mod] of [["wsgi.py", "wsgi:application"], ["app.py", "app:app"], ["main.py", "main:app"]] as const) {
        if (!(await isFile(path.join(dir, file)))) continue;
        if (hasGunicorn) return `gunicorn --bind 0.0.0.0:$PORT ${mod}`;
        if (file !== "wsgi.py") return `python ${file}`;
      }
      return undefined;
    }
    case "static":
      return "node /opt/paas/static-server.mjs";
    case "dockerfile":
      return undefined;
  }
}
