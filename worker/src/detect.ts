/**
 * Builder detection: which buildpack builds this source tree, and its process types.
 * The order matters (first match wins); the error lists what we support.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { parseProcfile, type ProcessTypes } from "./procfile.ts";

export class DetectError extends Error {}

export interface Detection {
  builder: "node";
  processTypes: ProcessTypes;
}

const SUPPORTED = "a Node.js app (package.json)";

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

export async function detect(dir: string): Promise<Detection> {
  const procfileText = await readIfExists(path.join(dir, "Procfile"));
  const procfile = procfileText === null ? {} : parseProcfile(procfileText);

  const pkgText = await readIfExists(path.join(dir, "package.json"));
  if (pkgText !== null) {
    let pkg: { scripts?: Record<string, string> };
    try {
      pkg = JSON.parse(pkgText);
    } catch (err) {
      throw new DetectError(`package.json is not valid JSON: ${(err as Error).message}`);
    }
    const processTypes: ProcessTypes = { ...procfile };
    if (!processTypes.web && pkg.scripts?.start) processTypes.web = "npm start";
    if (!processTypes.web) {
      throw new DetectError('no web process: add a "start" script to package.json or a "web:" line to a Procfile');
    }
    return { builder: "node", processTypes };
  }
  throw new DetectError(`could not detect how to build this app; supported: ${SUPPORTED}`);
}
