/**
 * The build pipeline, Dokku style: a list of named steps, each printing its
 * `-----> ` line. Untrusted code builds only inside containers of our runtime.
 *
 *   source tar -> detect -> builder (builders/: node, python, static, dockerfile;
 *   each runs containers and commits layers, reusing cached ones) -> image
 *   -> release (image + config + process types) -> deploy
 */
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as tar from "tar";
import type { Redis } from "ioredis";
import { db } from "@paas/db";
import { AgentError, buildSourcePath, config } from "@paas/shared";
import { BuildLog, lockWaitLog } from "./build-log.ts";
import { BUILDER_TITLES, detect, DetectError, type Detection } from "./builders/detect.ts";
import { ProcfileError } from "./builders/procfile.ts";
import { BUILD_MEMORY_BYTES, BuildFailure, type BuildContext, type BuildOutput } from "./builders/context.ts";
import { buildNode } from "./builders/node.ts";
import { buildStatic } from "./builders/static.ts";
import { buildPython } from "./builders/python.ts";
import { buildDockerfile } from "./builders/dockerfile/build.ts";
import { DockerfileError } from "./builders/dockerfile/plan.ts";
import { agentFor, pickHost } from "./hosts.ts";
import { configVars, createRelease } from "./release.ts";
import { deployRelease, DeployError } from "./deploy.ts";
import { LeaseLostError, withDeployLock } from "./deploy-lock.ts";
import { buildTimeoutMs, supersededBy } from "./jobs/build-slots.ts";

function builderFor(d: Detection): (ctx: BuildContext, d: Detection) => Promise<BuildOutput> {
  switch (d.builder) {
    case "node":
      return buildNode;
    case "static":
      return buildStatic;
    case "python":
      return buildPython;
    case "dockerfile":
      return buildDockerfile;
  }
}

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
    const vars = await configVars(app.id);
    const detection = await detect(workDir, vars.PAAS_BUILDER);
    log.step(`${BUILDER_TITLES[detection.builder]} app detected${detection.reason === "PAAS_BUILDER" ? " (PAAS_BUILDER)" : ""}`, "detect");
    // recorded now, so the dashboard names the builder while it runs and when it fails
    await db.build.update({ where: { id: buildId }, data: { builder: detection.builder } });
    const types = Object.entries(detection.processTypes).map(([t, c]) => `${t} (${c})`);
    if (types.length) log.info(`Process types: ${types.join(", ")}`);

    const host = await pickHost();
    const timeoutMs = buildTimeoutMs(app); // per app, else PAAS_BUILD_TIMEOUT_SECONDS, else 15 min
    const ctx: BuildContext = {
      agent: agentFor(host),
      app: { name: app.name, team: app.team.name },
      buildId,
      log,
      dir: workDir,
      configVars: vars,
      deadline: AbortSignal.timeout(timeoutMs),
      timeoutMs,
    };
    log.info(`Building in isolated containers (${BUILD_MEMORY_BYTES / 2 ** 20} MB)`);
    const out = await builderFor(detection)(ctx, detection);
    log.step("Saving the image", "image");
    log.info(`Image ${out.image.id.slice(0, 19)} (${(out.image.sizeBytes / 2 ** 20).toFixed(1)} MB, ${out.image.layers.length} layers)`);
    const imageRef = out.imageRef;
    await db.build.update({ where: { id: buildId }, data: { imageRef } });

    // One deploy of the app at a time, in turn: the release is made once it is
    // ours, so it takes the config as it is then (a config:set during the build is in it).
    const { release, retireOld } = await withDeployLock(redis, app.id, `build ${buildId}`, lockWaitLog(log, app.name), async (lease) => {
      const release = await createRelease({
        appId: app.id,
        buildId,
        imageRef,
        processTypes: out.processTypes,
        description: `Deploy ${build.commit.slice(0, 7)}`,
      });
      return { release, retireOld: await deployRelease(redis, release.id, log, lease) };
    });

    const url = config().appUrl(app.name);
    log.info(log.timingSummary());
    log.step(`Deployed v${release.version} to ${url}`);
    // The row first, then the stream's end: whoever sees the end (the pusher, the dashboard)
    // finds the build final.
    await db.build.update({
      where: { id: buildId },
      data: { status: "succeeded", finishedAt: new Date(), log: log.text() },
    });
    await log.finish("succeeded", { url });
    await retireOld().catch((err) => console.error(`build ${buildId}: stopping the previous replicas failed:`, err));
    return "succeeded";
  } catch (err) {
    const known = err instanceof BuildFailure || err instanceof DockerfileError || err instanceof DetectError || err instanceof ProcfileError || err instanceof DeployError || err instanceof AgentError || err instanceof LeaseLostError;
    // A newer push killed this build's containers: say so rather than the exit code it caused.
    const newer = await supersededBy(redis, buildId).catch(() => null);
    const message = newer
      ? `superseded by ${newer.slice(0, 7)}: a newer push of ${app.name} is deployed instead`
      : log.redact(known ? (err as Error).message : `internal error: ${(err as Error).message}`);
    if (!known && !newer) console.error(`build ${buildId} failed:`, err);
    log.endStep();
    log.error(message);
    await db.build.update({
      where: { id: buildId },
      data: { status: "failed", finishedAt: new Date(), error: message, log: log.text() },
    });
    await log.finish("failed", { error: message });
    return "failed";
  } finally {
    await fsp.rm(workDir, { recursive: true, force: true });
  }
}
