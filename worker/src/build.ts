/**
 * A push, Dokku style: a list of named steps (pipeline/), each printing its
 * own `-----> ` line, run by a StepRunner that times them.
 *
 *   receive  the pushed tree, streamed from the web app into a work dir
 *   detect   which builder (node, python, static, dockerfile) and the config vars
 *   build    the builder makes the image, in containers of our runtime
 *   release  image + config + process types = vN           } under the app's
 *   deploy   start vN's replicas, wait until they answer    } deploy lock,
 *   route    switch the router to them, make vN active      } in turn
 *   retire   stop the previous replicas (after the pusher has its answer)
 *
 * What the pusher reads of a failure is a PushError's message; anything else
 * is an internal error, logged here in full.
 */
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Redis } from "ioredis";
import { db } from "@paas/db";
import { config } from "@paas/shared";
import { BuildLog, lockWaitLog } from "./build-log.ts";
import { withDeployLock } from "./deploy-lock.ts";
import { agentFor, pickHost } from "./hosts.ts";
import { buildTimeoutMs, supersededBy } from "./jobs/build-slots.ts";
import { StepRunner } from "./pipeline/runner.ts";
import { receive } from "./pipeline/receive.ts";
import { detect } from "./pipeline/detect.ts";
import { build as buildImage } from "./pipeline/build.ts";
import { release as makeRelease } from "./pipeline/release.ts";
import { goLive } from "./pipeline/go-live.ts";
import { pusherMessage } from "./pipeline/push-error.ts";
import { watchBuildMinutes, type MinutesWatch } from "./jobs/build-minutes.ts";

export async function runBuild(redis: Redis, buildId: string): Promise<"succeeded" | "failed"> {
  const build = await db.build.findUnique({ where: { id: buildId }, include: { app: { include: { team: true } } } });
  if (!build) throw new Error(`build ${buildId} does not exist`);
  // A job re-run after a worker crash must not rebuild a finished build.
  if (build.status === "succeeded" || build.status === "failed") return build.status;
  const app = build.app;
  const log = new BuildLog(redis, buildId);
  const steps = new StepRunner();
  await db.build.update({ where: { id: buildId }, data: { status: "building", startedAt: new Date() } });

  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `paas-build-${app.name}-`));
  let minutes: MinutesWatch | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await steps.run(receive, { buildId, dir, log });
    const { detection, vars, checks } = await steps.run(detect, { appId: app.id, buildId, dir, log });
    const timeoutMs = buildTimeoutMs(app); // per app, else PAAS_BUILD_TIMEOUT_SECONDS, else 15 min
    minutes = watchBuildMinutes(app.team);
    // The time limit or the team's build minutes, whichever ends first. Not
    // AbortSignal.any([AbortSignal.timeout(ms), ...]): Node 20 lets the timeout signal inside it be
    // garbage-collected before it fires (nodejs/node#57736), and CI saw a 3 s build run its 60 s.
    const deadline = new AbortController();
    timer = setTimeout(() => deadline.abort(), timeoutMs);
    const stopped = minutes.signal;
    if (stopped.aborted) deadline.abort(stopped.reason);
    else stopped.addEventListener("abort", () => deadline.abort(stopped.reason), { once: true });
    const ctx = {
      agent: agentFor(await pickHost()),
      app: { name: app.name, team: app.team.name },
      buildId,
      log,
      dir,
      configVars: vars,
      deadline: deadline.signal,
      timeoutMs,
    };
    const image = await steps.run(buildImage, { ctx, detection });
    minutes.stop();

    // One deploy of the app at a time, in turn: the release is made once it is ours.
    const { version, retireOld } = await withDeployLock(redis, app.id, `build ${buildId}`, lockWaitLog(log, app.name), async (lease) => {
      const made = await steps.run(makeRelease, {
        appId: app.id,
        buildId,
        commit: build.commit,
        imageRef: image.imageRef,
        processTypes: image.processTypes,
        checks,
        log,
      });
      return { version: made.version, retireOld: await goLive(steps, { redis, releaseId: made.id, log, lease }) };
    });

    const url = config().appUrl(app.name);
    log.info(steps.summary());
    log.step(`Deployed v${version} to ${url}`);
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
    // A newer push killed this build's containers: say so rather than the exit code it caused.
    const newer = await supersededBy(redis, buildId).catch(() => null);
    const said = pusherMessage(err);
    const message = newer ? `superseded by ${newer.slice(0, 7)}: a newer push of ${app.name} is deployed instead` : log.redact(said.message);
    if (said.internal && !newer) console.error(`build ${buildId} failed:`, err);
    log.error(message);
    await db.build.update({
      where: { id: buildId },
      data: { status: "failed", finishedAt: new Date(), error: message, log: log.text() },
    });
    await log.finish("failed", { error: message });
    return "failed";
  } finally {
    clearTimeout(timer);
    minutes?.stop();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
