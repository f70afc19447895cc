/**
 * Dockerfile builds on our runtime, docker's way: every RUN/COPY/ADD a layer committed from
 * a container, config instructions (ENV, WORKDIR, USER, CMD, ...) carried along and
 * written into the next layer's image and the final one. Each layer is cached under
 * cache/<app>/df:<key>, key = hash(parent key (from the base image id), instruction text,
 * and for COPY/ADD the content hash of the files); a hit prints "---> Using cache".
 *
 * COPY --from=<stage> reads the stage's files out of its image through the agent's image
 * archive route (the merged view of its layers; no container runs for it).
 *
 * ARG X takes the app's config var X when there is one (Heroku's build-time config), else
 * its default. Config values are secrets: the log masks them (BuildLog.mask), and the final
 * image's config never holds build args (RUN containers get them as env only).
 *
 * The final image lists the cache keys its build used (label CACHE_KEYS_LABEL), so image
 * retention (jobs/images.ts) keeps the cache of the builds it keeps and drops the rest.
 */
import type { Stats } from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import { AgentError, unlessAbsent, type ArchiveOwner, type ImageConfig, type ImageInfo } from "@paas/shared";
import { APP_PORT, BuildFailure, emptyTar, findImage, finalImageName, packageIndexes, pipIndexes, readIfExists, runStep, sha256, shellCmd, tarOfDir, type BuildContext, type BuildOutput } from "../context.ts";
import type { Detection } from "../detect.ts";
import { isBaseImage } from "@paas/shared/stacks";
import { addUrlMessage, DockerfileError, expand, isAllowedImage, isUrl, parseChown, planDockerfile, type Plan, type Step } from "./plan.ts";
import { loadIgnore, type IgnoreMatcher } from "./ignore.ts";
import { archiveKind, extractArchive } from "./archive.ts";
import { destPath, namesDirectory, resolveCopyDest, type CopyDest } from "./copy-dest.ts";
import { CACHE_KEYS_LABEL, dfCacheName } from "./cache.ts";

interface State {
  image: ImageInfo;
  key: string;
  env: Record<string, string>;
  args: Record<string, string | undefined>;
  workdir: string;
  user?: string;
  cmd?: string[];
  entrypoint?: string[];
  exposed: number[];
  labels: Record<string, string>;
  /** WORKDIR was set here: make sure the directory exists in the next container. */
  ensureWorkdir: boolean;
}

export async function buildDockerfile(ctx: BuildContext, detection: Detection): Promise<BuildOutput> {
  const { log } = ctx;
  const text = (await readIfExists(path.join(ctx.dir, "Dockerfile"))) ?? "";
  const plan = planDockerfile(text);
  const ignore = loadIgnore((await readIfExists(path.join(ctx.dir, ".dockerignore"))) ?? "");
  const total = plan.stages.reduce((n, s) => n + 1 + s.steps.length, 0);
  const buildArgs = buildArgsFromConfig(plan, ctx.configVars);
  const globals: Record<string, string | undefined> = {};
  for (const a of plan.globalArgs) globals[a.name] = buildArgs[a.name] ?? a.value;

  // Masked before anything can show them (an expanded FROM, a RUN's own output, an error).
  for (const v of Object.values(buildArgs)) log.mask(v);
  log.step(`Building the Dockerfile (${plan.stages.length} stage${plan.stages.length === 1 ? "" : "s"}, ${total} steps)`);
  const fromConfig = Object.keys(buildArgs);
  if (fromConfig.length) log.info(`Build args from the app's config vars: ${fromConfig.join(", ")} (values not shown)`);
  const stageImages: ImageInfo[] = [];
  const stageNames = new Map<string, number>();
  const cacheKeys = new Set<string>();
  let n = 0;
  let state!: State;
  for (const stage of plan.stages) {
    n++;
    const from = expand(stage.from, globals);
    log.info(`Step ${n}/${total} : FROM ${from}${stage.name ? ` AS ${stage.name}` : ""}`);
    let base: ImageInfo | undefined;
    const byName = stageNames.get(from.toLowerCase());
    if (byName !== undefined) base = stageImages[byName];
    else if (isAllowedImage(from, ctx.app.name)) base = await findImage(ctx, from);
    if (!base) {
      const bases = (await ctx.agent.images()).flatMap((i) => i.names).filter(isBaseImage).sort();
      throw new DockerfileError(stage.line, `FROM ${from}: no such image here; use ${bases.join(", ")}, this app's images (app/${ctx.app.name}:...) or an earlier stage (there is no registry to pull from)`);
    }
    state = {
      image: base,
      key: sha256("from", base.id),
      env: { ...base.config.env },
      args: {},
      workdir: base.config.workdir || "/",
      user: base.config.user,
      cmd: base.config.cmd,
      entrypoint: base.config.entrypoint,
      exposed: [...(base.config.exposedPorts ?? [])],
      labels: { ...(base.config.labels ?? {}) },
      ensureWorkdir: false,
    };
    for (const step of stage.steps) {
      n++;
      log.info(`Step ${n}/${total} : ${step.text}`);
      try {
        await runInstruction(ctx, state, step, { globals, buildArgs, ignore, stageImages, stageNames, cacheKeys });
      } catch (err) {
        if (err instanceof DockerfileError) throw err;
        if (err instanceof BuildFailure || err instanceof AgentError) throw new DockerfileError(step.line, `${step.text.split(/\s/)[0]}: ${(err as Error).message}`);
        throw err;
      }
    }
    stageImages[stage.index] = state.image;
    if (stage.name) stageNames.set(stage.name, stage.index);
    stageNames.set(String(stage.index), stage.index);
  }

  // The final image: the last stage's files with its whole config; a Procfile's web wins.
  const imageCommand = [...(state.entrypoint ?? []), ...(state.cmd ?? [])];
  const processTypes = { ...detection.processTypes };
  const config: Partial<ImageConfig> = { ...configOf(state), entrypoint: state.entrypoint ?? [], cmd: state.cmd ?? [] };
  if (processTypes.web) {
    config.entrypoint = [];
    config.cmd = shellCmd(processTypes.web);
  } else {
    if (!imageCommand.length) throw new BuildFailure("the image has no CMD or ENTRYPOINT: add a CMD to the Dockerfile or a web: line to a Procfile");
    processTypes.web = imageCommand.join(" ");
  }
  if (!config.exposedPorts?.length) config.exposedPorts = [APP_PORT];
  config.labels = { ...config.labels, [CACHE_KEYS_LABEL]: [...cacheKeys].join(" ") };
  const name = finalImageName(ctx);
  const image = (await runStep(ctx, {
    image: state.image.id,
    archives: state.ensureWorkdir ? [{ dir: state.workdir, tar: emptyTar }] : [],
    commit: { name, config },
  }))!;
  return { imageRef: name, image, processTypes };
}

function configOf(s: State): Partial<ImageConfig> {
  return {
    env: s.env,
    workdir: s.workdir,
    ...(s.user ? { user: s.user } : {}),
    cmd: s.cmd ?? [],
    exposedPorts: s.exposed,
    labels: s.labels,
  };
}

/**
 * Values for the ARGs the Dockerfile declares (anywhere) from the app's config vars of the
 * same name: they win over ARG defaults, as docker's --build-arg does. Undeclared config
 * vars never reach the build.
 */
export function buildArgsFromConfig(plan: Plan, configVars: Record<string, string>): Record<string, string> {
  const declared = new Set([...plan.globalArgs.map((a) => a.name), ...plan.stages.flatMap((s) => s.steps.flatMap((x) => (x.kind === "arg" ? [x.name] : [])))]);
  return Object.fromEntries([...declared].filter((n) => Object.hasOwn(configVars, n)).map((n) => [n, configVars[n]]));
}

interface Shared {
  globals: Record<string, string | undefined>;
  /** ARG values from the app's config vars (see buildArgsFromConfig). */
  buildArgs: Record<string, string>;
  ignore: IgnoreMatcher;
  stageImages: ImageInfo[];
  stageNames: Map<string, number>;
  /** Keys of the cache images this build used or made (CACHE_KEYS_LABEL). */
  cacheKeys: Set<string>;
}

async function runInstruction(ctx: BuildContext, s: State, step: Step, sh: Shared): Promise<void> {
  const vars = { ...s.args, ...s.env };
  const x = (v: string) => expand(v, vars);
  switch (step.kind) {
    case "arg":
      s.args[step.name] = sh.buildArgs[step.name] ?? (step.value !== undefined ? x(step.value) : sh.globals[step.name]);
      s.key = sha256(s.key, step.text, s.args[step.name] ?? "");
      return;
    case "env":
      for (const [k, v] of step.pairs) s.env[k] = x(v);
      s.key = sha256(s.key, step.text);
      return;
    case "label":
      for (const [k, v] of step.pairs) s.labels[x(k)] = x(v);
      s.key = sha256(s.key, step.text);
      return;
    case "workdir":
      s.workdir = path.posix.resolve(s.workdir, x(step.value));
      s.ensureWorkdir = true;
      s.key = sha256(s.key, step.text);
      return;
    case "user":
      s.user = x(step.value);
      s.key = sha256(s.key, step.text);
      return;
    case "expose":
      for (const p of step.ports) {
        const port = Number(x(p).split("/")[0]);
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DockerfileError(step.line, `EXPOSE ${p}: not a port number`);
        if (!s.exposed.includes(port)) s.exposed.push(port);
      }
      s.key = sha256(s.key, step.text);
      return;
    case "cmd":
    case "entrypoint": {
      const argv = step.argv ?? ["/bin/sh", "-c", step.shell!];
      if (step.kind === "cmd") s.cmd = argv;
      else {
        s.entrypoint = argv;
        // Docker: ENTRYPOINT resets an inherited CMD.
        s.cmd = undefined;
      }
      s.key = sha256(s.key, step.text);
      return;
    }
    case "run":
      return layer(ctx, s, sh, sha256(s.key, step.text, JSON.stringify(s.args)), async (name) => {
        const argv = step.argv ?? ["/bin/sh", "-c", step.shell!];
        const base = await runnable(ctx, s, sh);
        return (await runStep(ctx, {
          image: base.id,
          cmd: argv,
          env: { ...s.env, ...definedArgs(s.args) },
          workdir: s.workdir,
          archives: s.ensureWorkdir ? [{ dir: s.workdir, tar: emptyTar }] : [],
          commit: { name, config: { ...configOf(s), entrypoint: [] } },
          purpose: `line ${step.line}`,
          // the host's npm/pip indexes (the image's own ENV wins: it is in s.env); pip's that
          // answer, for a line that runs pip
          indexes: /\bpip/.test(argv.join(" ")) ? await pipIndexes(ctx) : packageIndexes(ctx),
        }))!;
      });
    case "copy":
      return copy(ctx, s, step, sh, x);
  }
}

const definedArgs = (a: Record<string, string | undefined>) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Record<string, string>;

/**
 * The image a RUN container starts from must carry the user (the spec cannot set it)
 * and no entrypoint (RUN ignores it): derive one when the current image differs.
 */
async function runnable(ctx: BuildContext, s: State, sh: Shared): Promise<ImageInfo> {
  const cfg = s.image.config;
  if ((cfg.user ?? "") === (s.user ?? "") && !(cfg.entrypoint?.length)) return s.image;
  const key = sha256(s.key, "runnable", s.user ?? "");
  sh.cacheKeys.add(key);
  const name = dfCacheName(ctx.app.name, key);
  return (await findImage(ctx, name)) ?? ((await runStep(ctx, { image: s.image.id, commit: { name, config: { user: s.user ?? "", entrypoint: [] } } }))!);
}

/** A cached layer: reuse `cache/<app>/df:<key>` or make it with `make`. */
async function layer(ctx: BuildContext, s: State, sh: Shared, key: string, make: (name: string) => Promise<ImageInfo>): Promise<void> {
  const name = dfCacheName(ctx.app.name, key);
  sh.cacheKeys.add(key);
  const hit = await findImage(ctx, name);
  if (hit) ctx.log.info(" ---> Using cache");
  s.image = hit ?? (await make(name));
  s.key = key;
  s.ensureWorkdir = false;
  ctx.log.info(` ---> ${s.image.id.slice(7, 19)}`);
}

const GLOB = /[*?[]/;

function globRegex(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      re += ".*";
      i++;
      if (pattern[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

async function walk(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    out.push(r);
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
  }
  return out;
}

/** Copies `src` (file or dir, relative to `root`) into `dest` (a dir), skipping ignored paths. */
async function place(root: string, src: string, dest: string, ignore: IgnoreMatcher | undefined, contents: boolean, rename?: string) {
  const from = path.join(root, src);
  const st = await fsp.lstat(from);
  // a dir's contents go into dest itself; a file goes into it under its (or the given) name
  const target = contents && !st.isDirectory() ? path.join(dest, rename ?? path.basename(src)) : dest;
  if (st.isDirectory()) {
    await fsp.mkdir(target, { recursive: true });
    for (const e of await fsp.readdir(from)) {
      const r = src ? `${src}/${e}` : e;
      if (ignore?.(r)) continue;
      await place(root, r, path.join(target, e), ignore, false);
    }
  } else {
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.cp(from, target, { verbatimSymlinks: true, preserveTimestamps: true });
  }
}

/** Hash of a staged tree: paths, modes, contents (not times: a re-checkout must hit the cache). */
async function hashTree(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const rel of (await walk(dir)).sort()) {
    const p = path.join(dir, rel);
    const st = await fsp.lstat(p);
    parts.push(rel, String(st.mode));
    if (st.isFile()) parts.push(sha256(await fsp.readFile(p)));
    else if (st.isSymbolicLink()) parts.push(await fsp.readlink(p));
  }
  return sha256(...parts);
}

async function copy(ctx: BuildContext, s: State, step: Extract<Step, { kind: "copy" }>, sh: Shared, x: (v: string) => string): Promise<void> {
  const srcs = step.srcs.map(x);
  if (step.add) {
    // A URL hidden in an ARG shows only now.
    const url = srcs.find(isUrl);
    if (url) throw new DockerfileError(step.line, addUrlMessage(url));
  }
  const owner = step.chown === undefined ? undefined : await resolveChown(ctx, s.image, x(step.chown), step.line);
  // The owner is part of the layer (an ARG may change it with the same text).
  const ownerKey = owner ? `${owner.uid}:${owner.gid}` : "";
  const dest = x(step.dest);
  const destAbs = destPath(dest, s.workdir);
  // Only a destination that does not say "directory" itself needs a look into the image.
  const isDirectory =
    !namesDirectory(dest) && ((s.ensureWorkdir && destAbs === s.workdir) || (await ctx.agent.imagePathKind(s.image.id, destAbs)) === "directory");
  const target = (sources: number): CopyDest => {
    try {
      return resolveCopyDest(dest, s.workdir, sources, isDirectory);
    } catch (err) {
      throw new DockerfileError(step.line, `${step.add ? "ADD" : "COPY"} ${srcs.join(" ")} ${dest}: ${(err as Error).message}`);
    }
  };
  // The dir the staged files are put at (set by placing), and the name a lone file gets there.
  let destDir = "";
  // `whole`: a directory or an archive, whose contents go to the destination as a directory.
  const placing = (t: CopyDest, whole: boolean): string | undefined => {
    if ("into" in t) {
      destDir = t.into;
      return undefined;
    }
    destDir = whole ? t.at : path.posix.dirname(t.at);
    return whole ? undefined : path.posix.basename(t.at);
  };
  const staging = await fsp.mkdtemp(path.join(os.tmpdir(), "paas-copy-"));
  try {
    let sourceId = "";
    let fromKey: string | undefined;
    if (step.from !== undefined) {
      const t = target(srcs.length);
      const idx = sh.stageNames.get(step.from);
      const img = idx !== undefined ? sh.stageImages[idx] : await findImage(ctx, step.from);
      if (!img) throw new DockerfileError(step.line, `COPY --from=${step.from}: no earlier stage or image of that name`);
      sourceId = img.id;
      // The stage's image id pins its files: a hit needs no reading.
      const key = sha256(s.key, step.text, img.id, ...(owner ? [ownerKey] : []));
      if (await findImage(ctx, dfCacheName(ctx.app.name, key))) return layer(ctx, s, sh, key, async () => s.image);
      fromKey = key;
      const fetched = path.join(staging, ".from");
      await fsp.mkdir(fetched);
      for (const src of srcs) {
        const abs = path.posix.resolve("/", src);
        const sub = path.join(fetched, sha256(abs).slice(0, 12));
        await fsp.mkdir(sub);
        await readFromImage(ctx, img, abs, sub, step);
        const entry = path.posix.basename(abs) || ".";
        const isDir = (await fsp.lstat(path.join(sub, entry))).isDirectory();
        await place(sub, entry, path.join(staging, "out"), undefined, true, placing(t, isDir));
      }
    } else {
      const all = srcs.some((p) => GLOB.test(p)) ? (await walk(ctx.dir)).filter((r) => !sh.ignore(r)) : [];
      const found: { raw: string; file: string; st: Stats; m: string }[] = [];
      for (const raw of srcs) {
        const src = path.posix.normalize(raw).replace(/^(\.\/|\/)+/, "").replace(/\/$/, "");
        if (src.startsWith("..")) throw new DockerfileError(step.line, `${raw} is outside the build context`);
        const matches = GLOB.test(src) ? all.filter((r) => globRegex(src).test(r)) : [src === "." ? "" : src];
        if (!matches.length) throw new DockerfileError(step.line, `${raw}: no files match in the pushed tree`);
        for (const m of matches) {
          if (m && sh.ignore(m)) throw new DockerfileError(step.line, `${raw} is excluded by .dockerignore`);
          const file = path.join(ctx.dir, m);
          const st = await fsp.lstat(file).catch(() => null);
          if (!st) throw new DockerfileError(step.line, `${raw}: no such file or directory in the pushed tree`);
          found.push({ raw, file, st, m });
        }
      }
      const t = target(found.length);
      for (const { raw, file, st, m } of found) {
        // ADD unpacks a local tar archive (plain, gzip, bzip2, xz) into the destination, as docker does.
        const kind = step.add && st.isFile() ? await archiveKind(file) : undefined;
        if (kind) {
          let skipped: string[];
          try {
            skipped = await extractArchive(file, kind, path.join(staging, "out"));
          } catch (err) {
            throw new DockerfileError(step.line, `ADD ${raw}: cannot unpack the ${kind} archive: ${(err as Error).message}`);
          }
          placing(t, true);
          ctx.log.info(`Unpacked ${raw} (${kind === "tar" ? "tar" : `tar, ${kind}`}) into ${destDir}`);
          for (const w of skipped) ctx.log.info(`skipped: ${w}`);
        } else await place(ctx.dir, m, path.join(staging, "out"), sh.ignore, true, placing(t, st.isDirectory()));
      }
    }
    const out = path.join(staging, "out");
    await fsp.mkdir(out, { recursive: true });
    const key = fromKey ?? sha256(s.key, step.text, sourceId, await hashTree(out), destDir, ...(owner ? [ownerKey] : []));
    await layer(ctx, s, sh, key, async (name) => {
      const base = await runnable(ctx, s, sh);
      // Docker gives the directories a --chown copy creates to that owner too: they go in the tar.
      const missing = owner ? await missingDirs(ctx, s.image, destDir, s.ensureWorkdir ? s.workdir : undefined) : [];
      let root = out;
      if (missing.length) {
        root = path.join(staging, "wrap");
        await fsp.mkdir(path.join(root, ...missing.slice(0, -1)), { recursive: true });
        await fsp.rename(out, path.join(root, ...missing));
      }
      const putAt = path.posix.resolve(destDir, ...missing.map(() => ".."));
      return (await runStep(ctx, {
        image: base.id,
        archives: [
          ...(s.ensureWorkdir ? [{ dir: s.workdir, tar: emptyTar }] : []),
          { dir: putAt, tar: () => tarOfDir(root), owner },
        ],
        commit: { name, config: { ...configOf(s), entrypoint: [] } },
      }))!;
    });
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
  }
}

/** The directories on the way to `dir` (top first) that `img` lacks; `made` counts as there (a WORKDIR about to be made). */
async function missingDirs(ctx: BuildContext, img: ImageInfo, dir: string, made?: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; d !== "/" && d !== made && !(await ctx.agent.imagePathKind(img.id, d)); d = path.posix.dirname(d)) missing.unshift(path.posix.basename(d));
  return missing;
}

/** The files at `abs` in `img`, from the agent's image archive route, into `into` (as `basename(abs)`). */
async function readFromImage(ctx: BuildContext, img: ImageInfo, abs: string, into: string, step: Extract<Step, { kind: "copy" }>) {
  const body = await unlessAbsent(ctx.agent.imageArchive(img.id, abs, { follow: true, signal: ctx.deadline }));
  if (!body) throw new DockerfileError(step.line, `COPY --from=${step.from}: no ${abs} in that stage's files`);
  await pipeline(Readable.fromWeb(body as never), tar.x({ cwd: into, preserveOwner: false }));
}

/** One file of an image (symlinks followed), or undefined when it has none there. */
async function readImageFile(ctx: BuildContext, img: ImageInfo, file: string): Promise<string | undefined> {
  const body = await unlessAbsent(ctx.agent.imageArchive(img.id, file, { follow: true, signal: ctx.deadline }));
  if (!body) return undefined;
  const chunks: Buffer[] = [];
  const parser = new tar.Parser({
    onReadEntry: (e) => {
      if (e.type === "File") e.on("data", (c: Buffer) => chunks.push(c));
      else e.resume();
    },
  });
  await pipeline(Readable.fromWeb(body as never), parser as unknown as NodeJS.WritableStream);
  return Buffer.concat(chunks).toString("utf8");
}

/** `name` in an /etc/passwd or /etc/group text: its fields after the password. */
function lookup(text: string | undefined, name: string): string[] | undefined {
  for (const line of (text ?? "").split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 3) return f.slice(2);
  }
  return undefined;
}

/**
 * --chown=user[:group] as numeric ids. Names are looked up in the image's /etc/passwd and
 * /etc/group (the stage as built so far, so a user an earlier RUN added is there). A user
 * alone: a number is its own group (docker's rule), a name gets its primary group.
 */
async function resolveChown(ctx: BuildContext, img: ImageInfo, spec: string, line: number): Promise<ArchiveOwner> {
  const c = parseChown(spec, line);
  const numeric = (v: string) => /^\d+$/.test(v);
  const instead = "use numeric ids instead (--chown=1000:1000), or add it in an earlier RUN step";
  let uid: number;
  let gid: number | undefined;
  if (numeric(c.user)) uid = Number(c.user);
  else {
    const passwd = await readImageFile(ctx, img, "/etc/passwd");
    if (passwd === undefined) throw new DockerfileError(line, `--chown=${spec}: the image has no /etc/passwd to look up "${c.user}" in; use numeric ids instead (--chown=1000:1000)`);
    const f = lookup(passwd, c.user);
    if (!f || !numeric(f[0]) || !numeric(f[1] ?? "")) throw new DockerfileError(line, `--chown=${spec}: no user "${c.user}" in the image's /etc/passwd; ${instead}`);
    uid = Number(f[0]);
    gid = Number(f[1]);
  }
  if (c.group !== undefined) {
    if (numeric(c.group)) gid = Number(c.group);
    else {
      const f = lookup(await readImageFile(ctx, img, "/etc/group"), c.group);
      if (!f || !numeric(f[0])) throw new DockerfileError(line, `--chown=${spec}: no group "${c.group}" in the image's /etc/group; ${instead}`);
      gid = Number(f[0]);
    }
  }
  return { uid, gid: gid ?? uid };
}
