/**
 * What every builder works with: the agent of the build host, the app, the
 * build log, the unpacked source, and small steps on top of the agent API
 * (run a container, commit it, reuse a cached image).
 *
 * A builder returns an image (named `app/<app>:<buildId>`) whose command is
 * the web process; intermediate and cache images live under `cache/<app>/...`.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import { Readable } from "node:stream";
import * as tar from "tar";
import { type AgentClient, type ArchiveOwner, type ImageConfig, type ImageInfo, type LogLine, unlessAbsent } from "@paas/shared";
import { BUILD_MEMORY_MB, BUILD_PIDS } from "@paas/shared/sizes";
import type { BuildLog } from "../build-log.ts";
import { PushError } from "../pipeline/push-error.ts";
import type { ProcessTypes } from "./procfile.ts";
import { describeDuration } from "../jobs/build-slots.ts";
import { BuildStopped } from "../jobs/build-minutes.ts";
import { INDEXES_DIR, type PackageIndexes, readPackageIndexes } from "./package-indexes.ts";
import { withReachablePipIndexes } from "./pip-reachable.ts";

export const BUILD_MEMORY_BYTES = BUILD_MEMORY_MB * 2 ** 20;
/** The port every web process listens on inside its container ($PORT; deploy.ts sets it). */
export const APP_PORT = 5000;

/** A build that failed for a reason the pusher can act on (a command that exited non-zero, ...). */
export class BuildFailure extends PushError {}

export interface BuildContext {
  agent: AgentClient;
  app: { name: string; team: string };
  buildId: string;
  log: BuildLog;
  /** The pushed tree, unpacked on the worker's disk. */
  dir: string;
  /**
   * The app's config vars when the build started: a Dockerfile's ARGs take their values from
   * them (Heroku's build-time config). Secrets: never put them in the log.
   */
  configVars: Record<string, string>;
  /** Aborts when the whole build has taken `timeoutMs`, or the team used its build minutes (reason: BuildStopped). */
  deadline: AbortSignal;
  timeoutMs: number;
}

export interface BuildOutput {
  imageRef: string;
  image: ImageInfo;
  processTypes: ProcessTypes;
}

export const sha256 = (...parts: (string | Buffer)[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
};

export const finalImageName = (ctx: BuildContext) => `app/${ctx.app.name}:${ctx.buildId}`;

/** The web command as an image command: a shell runs it, exec hands it the pid (signals). */
export const shellCmd = (command: string) => ["/bin/sh", "-c", `exec ${command}`];

export async function readIfExists(file: string): Promise<string | null> {
  try {
    return await fs.promises.readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") return null;
    throw err;
  }
}

/** The image, or undefined when the host does not have it. */
export function findImage(ctx: BuildContext, name: string): Promise<ImageInfo | undefined> {
  return unlessAbsent(ctx.agent.image(name));
}

/** A tar of `dir` (paths relative to it), skipping what `skip` says (paths like "node_modules" or "a/b"). */
export function tarOfDir(dir: string, skip: (rel: string) => boolean = () => false): Readable {
  const entries = fs.readdirSync(dir).filter((e) => !skip(e));
  if (entries.length === 0) return emptyTar();
  // node-tar's stream is a minipass, not a stream.Readable: wrap it for Readable.toWeb.
  const pack = tar.c({ cwd: dir, portable: true, filter: (p) => !skip(p.replace(/^\.\//, "")) }, entries);
  return Readable.from(pack as unknown as AsyncIterable<Buffer>);
}

/** A tar of in-memory files: { "a/b.txt": content }. */
export function tarOfFiles(files: Record<string, string | Buffer>, mode = 0o644): Readable {
  const blocks: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const body = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const h = new tar.Header({ path: name, mode, size: body.length, type: "File", mtime: new Date(0), uid: 0, gid: 0 });
    const hb = Buffer.alloc(512);
    h.encode(hb, 0);
    blocks.push(hb, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Readable.from([Buffer.concat(blocks)]);
}

/**
 * A tar with only "./" (a directory): putting it at a path makes that directory exist.
 * (node-tar refuses an archive of nothing but the end blocks.)
 */
export const emptyTar = () => {
  const hb = Buffer.alloc(512);
  new tar.Header({ path: "./", mode: 0o755, type: "Directory", mtime: new Date(0), uid: 0, gid: 0 }).encode(hb, 0);
  return Readable.from([Buffer.concat([hb, Buffer.alloc(1024)])]);
};

const toBody = (s: Readable) => Readable.toWeb(s) as unknown as BodyInit;

export interface ContainerStep {
  image: string;
  /** Runs this command; without it the container is only filled and committed (no process). */
  cmd?: string[];
  env?: Record<string, string>;
  workdir?: string;
  /** Tars extracted into the container before it starts (owned by `owner` when given: COPY --chown). */
  archives?: { dir: string; tar: () => Readable; owner?: ArchiveOwner }[];
  /** Commits the container as this image with this config change. */
  commit?: { name: string; config?: Partial<ImageConfig> };
  /** Streams the output into the log (default true). */
  showOutput?: boolean;
  /** Gets every output line (with its stream), e.g. to collect a command's stdout. */
  onLine?: (l: LogLine) => void;
  /** Extra label for the container (the instruction it runs, for operators). */
  purpose?: string;
  /** The host's package indexes (package-indexes.ts), for a step that installs packages. */
  indexes?: PackageIndexes;
}

const indexesOfBuild = new WeakMap<BuildContext, PackageIndexes>();
/** The host's package indexes, read once per build (package-indexes.ts). */
export function packageIndexes(ctx: BuildContext): PackageIndexes {
  let ix = indexesOfBuild.get(ctx);
  if (!ix) indexesOfBuild.set(ctx, (ix = readPackageIndexes()));
  return ix;
}

const pipIndexesOfBuild = new WeakMap<BuildContext, Promise<PackageIndexes>>();
/**
 * packageIndexes with pip's indexes that do not answer left out (pip-reachable.ts), tried once
 * per build, for steps that run pip: other builds neither wait for the try nor log it.
 */
export function pipIndexes(ctx: BuildContext): Promise<PackageIndexes> {
  let ix = pipIndexesOfBuild.get(ctx);
  if (!ix) pipIndexesOfBuild.set(ctx, (ix = withReachablePipIndexes(packageIndexes(ctx), (line) => ctx.log.info(line))));
  return ix;
}

/** A line as the log may show it: the indexes' secrets masked. */
const masked = (line: string, secrets: string[]) => secrets.reduce((l, s) => l.split(s).join("****"), line);

/**
 * One container: create, fill, run (output streams into the build log live), commit,
 * remove. A non-zero exit, a memory kill or the build deadline become BuildFailures.
 */
export async function runStep(ctx: BuildContext, step: ContainerStep): Promise<ImageInfo | undefined> {
  const { agent, log } = ctx;
  if (ctx.deadline.aborted) throw timeoutFailure(ctx);
  const ix = step.indexes;
  // The indexes' npmrc (names and ${VAR} references only) is written by the step's own user
  // (so it may remove it from sticky /tmp) and goes when the command ends, whatever its end.
  const npmrc = ix?.npmrc !== undefined && step.cmd ? ix.npmrc : undefined;
  const cmd =
    npmrc !== undefined && step.cmd
      ? ["/bin/sh", "-c", `mkdir -p ${INDEXES_DIR} && printf '%s' "$PAAS_NPMRC" > ${INDEXES_DIR}/npmrc && trap 'rm -rf ${INDEXES_DIR}' EXIT && "$@"`, "sh", ...step.cmd]
      : step.cmd;
  const secrets = ix?.secrets ?? [];
  const container = await agent.createContainer({
    name: `build-${ctx.app.name}-${ctx.buildId}-${Math.random().toString(36).slice(2, 8)}`,
    image: step.image,
    cmd,
    env: ix ? { ...ix.env, ...(npmrc !== undefined ? { PAAS_NPMRC: npmrc } : {}), ...step.env } : step.env,
    ...(ix?.binds.length ? { binds: ix.binds } : {}),
    workdir: step.workdir,
    hostname: `build-${ctx.app.name}`,
    memoryBytes: BUILD_MEMORY_BYTES,
    pidsLimit: BUILD_PIDS,
    cgroupParent: `${ctx.app.team}/${ctx.app.name}`,
    network: "bridge",
    egress: true,
    labels: { "paas.app": ctx.app.name, "paas.build": ctx.buildId, ...(step.purpose ? { "paas.step": step.purpose } : {}) },
  });
  try {
    for (const a of step.archives ?? []) await agent.putArchive(container.id, a.dir, toBody(a.tar()), { owner: a.owner });
    if (cmd) {
      await agent.start(container.id);
      const streaming = (async () => {
        for await (const l of agent.logs(container.id, { follow: true })) {
          step.onLine?.(l);
          if (step.showOutput === false) continue;
          const line = secrets.length ? masked(l.line, secrets) : l.line;
          if (line.startsWith("-----> ")) log.step(line.slice(7));
          else log.info(line);
        }
      })().catch(() => {});
      const result = await agent.wait(container.id, ctx.deadline).catch(async (err) => {
        if (ctx.deadline.aborted) throw timeoutFailure(ctx); // (the finally below removes the container)
        throw err;
      });
      await streaming;
      if (result.oomKilled) throw new BuildFailure(`the build ran out of memory (limit ${BUILD_MEMORY_BYTES / 2 ** 20} MB)`);
      if (result.exitCode !== 0) throw new BuildFailure(`the build failed (exit code ${result.exitCode}); see the lines above`);
    }
    if (!step.commit) return undefined;
    return await agent.commit(container.id, step.commit.name, step.commit.config);
  } finally {
    await agent.remove(container.id, true).catch(() => {});
  }
}

/** The deadline's end as the pusher reads it: the team's build minutes used up (its reason), else the time limit. */
const timeoutFailure = (ctx: BuildContext) =>
  new BuildFailure(ctx.deadline.reason instanceof BuildStopped ? ctx.deadline.reason.message : `the build took longer than ${describeDuration(ctx.timeoutMs)} and was stopped`);

/**
 * Drops the names of older cache images of this kind (`cache/<app>/<kind>:*`) but `keep`.
 * Layers that app images still use stay: the store only deletes unreferenced ones.
 */
export async function pruneCache(ctx: BuildContext, kind: string, keep: string): Promise<void> {
  const prefix = `cache/${ctx.app.name}/${kind}:`;
  try {
    for (const img of await ctx.agent.images()) {
      for (const n of img.names) if (n.startsWith(prefix) && n !== keep) await ctx.agent.removeImage(n).catch(() => {});
    }
  } catch {
    // Pruning is housekeeping; a failure must not fail the build.
  }
}

