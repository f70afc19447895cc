/**
 * The build pipeline, Dokku style: a list of named steps, each printing its
 * `-----> ` line. Untrusted code builds only inside a container of our runtime.
 *
 *   source tar -> detect -> build container (stack + source, buildpack script)
 *   -> commit as image -> release (image + config + process types) -> deploy
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import * as tar from "tar";
import type { Redis } from "ioredis";
import { db } from "@paas/db";
import { AgentError, buildSourcePath, config } from "@paas/shared";
import { BuildLog } from "./build-log.ts";
import { detect, DetectError } from "./detect.ts";
import { ProcfileError } from "./procfile.ts";
import { buildpackFor } from "./buildpacks.ts";
import { agentFor, pickHost } from "./hosts.ts";
import { createRelease } from "./release.ts";
import { deployRelease, DeployError } from "./deploy.ts";

const BUILD_MEMORY_BYTES = 1024 * 2 ** 20;
const BUILD_TIMEOUT_MS = 15 * 60_000;

/** A failure the pusher can act on: its message is shown as is. */
class BuildFailure extends Error {}

export async function runBuild(redis: Redis, buildId: string): Promise<"succeeded" | "failed"> {
  const build = await db.build.findUnique({ where: { id: buildId }, include: { app: { include: { team: true } } } });
  if (!build) throw new Error(`build ${buildId} does not exist`);
  // A job re-run after a worker crash must not rebuild a finished build.
  if (build.status === "succeeded" || build.status === "failed") return build.status;
  const app = build.app;
  const log = new BuildLog(redis, buildId);
  await db.build.update({ where: { id: buildId }, data: { status: "building", startedAt: new Date() } });

  const workDir = await fsp.mkdtemp(path.join(os.tmpdir(), `paas-build-${app.name}-`));
  try {
    const source = buildSourcePath(config().dataDir, buildId);
    await tar.x({ file: source, cwd: workDir });
    const detection = await detect(workDir);
    log.step(`${detection.builder === "node" ? "Node.js" : detection.builder} app detected`, "detect");
    log.info(`Process types: ${Object.entries(detection.processTypes).map(([t, c]) => `${t} (${c})`).join(", ")}`);
    const pack = buildpackFor(detection);

    const host = await pickHost();
    const agent = agentFor(host);
    log.step(`Building in an isolated container (${pack.stack}, ${BUILD_MEMORY_BYTES / 2 ** 20} MB)`, "container");
    const container = await agent.createContainer({
      name: `build-${app.name}-${buildId}`,
      image: pack.stack,
      cmd: ["/bin/sh", "-c", pack.script],
      env: pack.env,
      workdir: "/app",
      hostname: `build-${app.name}`,
      memoryBytes: BUILD_MEMORY_BYTES,
      pidsLimit: 1024,
      cgroupParent: `${app.team.name}/${app.name}`,
      network: "bridge",
      egress: true,
      labels: { "paas.app": app.name, "paas.build": buildId },
    });
    let imageRef: string;
    try {
      await agent.putArchive(container.id, "/app", Readable.toWeb(fs.createReadStream(source)) as unknown as BodyInit);
      await agent.start(container.id);
      const streaming = (async () => {
        for await (const l of agent.logs(container.id, { follow: true })) {
          if (l.line.startsWith("-----> ")) log.step(l.line.slice(7));
          else log.info(l.line);
        }
      })().catch(() => {});
      const timeout = AbortSignal.timeout(BUILD_TIMEOUT_MS);
      const result = await agent.wait(container.id, timeout).catch(async (err) => {
        if (timeout.aborted) {
          await agent.remove(container.id, true).catch(() => {});
          throw new BuildFailure(`the build took longer than ${BUILD_TIMEOUT_MS / 60_000} minutes and was stopped`);
        }
        throw err;
      });
      await streaming;
      if (result.oomKilled) {
        throw new BuildFailure(`the build ran out of memory (limit ${BUILD_MEMORY_BYTES / 2 ** 20} MB)`);
      }
      if (result.exitCode !== 0) throw new BuildFailure(`the build failed (exit code ${result.exitCode}); see the lines above`);

      log.step("Saving the image", "image");
      const image = await agent.commit(container.id, `app/${app.name}:${buildId}`, {
        cmd: ["/bin/sh", "-c", `exec ${detection.processTypes.web}`],
        workdir: "/app",
        exposedPorts: [5000],
      });
      imageRef = `app/${app.name}:${buildId}`;
      log.info(`Image ${image.id.slice(0, 19)} (${(image.sizeBytes / 2 ** 20).toFixed(1)} MB, ${image.layers.length} layers)`);
    } finally {
      await agent.remove(container.id, true).catch(() => {});
    }
    await db.build.update({ where: { id: buildId }, data: { imageRef, builder: detection.builder } });

    const release = await createRelease({
      appId: app.id,
      buildId,
      imageRef,
      processTypes: detection.processTypes,
      description: `Deploy ${build.commit.slice(0, 7)}`,
    });
    const retireOld = await deployRelease(redis, release.id, log);

    const url = config().appUrl(app.name);
    log.info(log.timingSummary());
    log.step(`Deployed v${release.version} to ${url}`);
    await log.finish("succeeded", { url });
    await db.build.update({
      where: { id: buildId },
      data: { status: "succeeded", finishedAt: new Date(), log: log.text() },
    });
    await retireOld().catch((err) => console.error(`build ${buildId}: stopping the previous replicas failed:`, err));
    return "succeeded";
  } catch (err) {
    const known = err instanceof BuildFailure || err instanceof DetectError || err instanceof ProcfileError || err instanceof DeployError || err instanceof AgentError;
    const message = known ? (err as Error).message : `internal error: ${(err as Error).message}`;
    if (!known) console.error(`build ${buildId} failed:`, err);
    log.endStep();
    log.error(message);
    await log.finish("failed", { error: message });
    await db.build.update({
      where: { id: buildId },
      data: { status: "failed", finishedAt: new Date(), error: message, log: log.text() },
    });
    return "failed";
  } finally {
    await fsp.rm(workDir, { recursive: true, force: true });
  }
}
