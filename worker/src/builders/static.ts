/**
 * Static sites: the files in /app of a stack/node image, served by our dependency-free
 * static server (static-server.mjs, shipped to /opt/paas). Compressible files are
 * gzipped at build time so the server sends them without compressing per request.
 */
import fs from "node:fs";
import path from "node:path";
import { APP_PORT, finalImageName, runStep, shellCmd, tarOfDir, tarOfFiles, type BuildContext, type BuildOutput } from "./context.ts";
import type { Detection } from "./detect.ts";

export const STATIC_SERVER = path.join(import.meta.dirname, "static-server.mjs");

export async function buildStatic(ctx: BuildContext, detection: Detection): Promise<BuildOutput> {
  const server = fs.readFileSync(STATIC_SERVER);
  const name = finalImageName(ctx);
  ctx.log.step("Adding the site and the static server (gzip, caching headers)");
  const image = await runStep(ctx, {
    image: "stack/node",
    cmd: ["node", "/opt/paas/static-server.mjs", "--precompress"],
    workdir: "/app",
    archives: [
      { dir: "/app", tar: () => tarOfDir(ctx.dir, (rel) => rel === ".git" || rel.startsWith(".git/")) },
      { dir: "/opt/paas", tar: () => tarOfFiles({ "static-server.mjs": server }) },
    ],
    commit: { name, config: { cmd: shellCmd(detection.processTypes.web), workdir: "/app", exposedPorts: [APP_PORT] } },
    purpose: "static",
  });
  return { imageRef: name, image: image!, processTypes: detection.processTypes };
}
