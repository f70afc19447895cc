/**
 * paas-runtime's commands: docker's verbs and flags on this host's runtime, over the
 * runtime library. `runCli(argv, io, opts)` runs one command line against an `io` (where
 * output goes, whose environment `-e NAME` reads, where Ctrl-C comes from) and a Runtime.
 * The agent is the one writer of the runtime's state, so a command runs:
 *   - inside the agent (agent/cli-socket.ts), for a thin client (native/client.c) that
 *     forwards its command line and relays the output: no Node start-up and no cold code
 *     per call, the agent's warm Runtime does the work (docker's split);
 *   - CALLER_SIDE commands (they use the caller's stdin, terminal or files: exec, cp,
 *     export, import, save, load) in the caller's process (cli.ts), as a client of the
 *     agent's HTTP API (`streams`: cli-remote.ts), as docker's CLI is of dockerd;
 *   - with --local, for recovery while no agent runs (cli.ts refuses it while one does),
 *     all of them in the operator's process against the files under PAAS_DATA_DIR.
 *
 * `run` exits with the container's exit code; 137 when the memory limit killed it (as
 * docker), 125 when the container could not be made (bad image, bad flag).
 */
import { spawn, spawnSync } from "node:child_process";
import { pipeline } from "node:stream/promises";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable, type Writable } from "node:stream";
import { Command, CommanderError, Option } from "commander";
import type { ContainerInfo, ContainerSpec, ExecProcess, ExecRequest, ImageConfig, ImageInfo } from "@paas/shared/agent-api";
import type { Runtime } from "./containers.ts";
import { checkName } from "./images.ts";
import { parseLogEntry } from "./logs.ts";
import { RuntimeError } from "./util.ts";

/** PAAS_TRACE_START=1: where a command's time goes, in ms since the process started (node's start-up included). */
const trace = process.env.PAAS_TRACE_START ? (m: string) => console.error(`cli ${m} ${performance.now().toFixed(1)}ms`) : undefined;
trace?.("loaded");

/** A CLI usage error: exit 125 like docker's daemon-side errors, with the message only. */
class UsageError extends Error {}

export function parseSize(flag: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(String(s).trim());
  if (!m || Number(m[1]) <= 0) throw new UsageError(`invalid ${flag} "${s}": use a number with k, m or g (e.g. 512k, 64m, 1g)`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as "" | "k" | "m" | "g"];
  return Math.round(Number(m[1]) * mult);
}

function parseNumber(flag: string, s: string, opts: { integer?: boolean; min?: number } = {}): number {
  const n = Number(s);
  if (!String(s).trim() || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || n < (opts.min ?? 0)) {
    throw new UsageError(`invalid ${flag} "${s}": use ${opts.integer ? "a whole number" : "a number"}${opts.min ? ` of at least ${opts.min}` : ""}`);
  }
  return n;
}

/** Where a command line's input and output are: the operator's process, or a client of the agent. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  /** Only CALLER_SIDE commands read it. */
  stdin: Readable;
  /** The caller's terminal, when its stdin and stdout are one (exec -t). */
  terminal?: Terminal;
  /** Is stdout a terminal (no tar written to one). */
  isTTY: boolean;
  /** The caller's environment: `-e NAME` takes NAME's value from it, as docker does. */
  env: NodeJS.ProcessEnv;
  /** Calls `fn` on the caller's Ctrl-C or SIGTERM (forwarded by the agent's client). */
  onInterrupt(fn: () => void): void;
  /** Aborted when the caller is gone (a client that hung up): followers stop. */
  signal?: AbortSignal;
}

/** The caller's terminal: its size, raw mode (keys go to the container as typed), resizes. */
export interface Terminal {
  size(): { rows: number; cols: number };
  setRaw(on: boolean): void;
  onResize(fn: () => void): void;
}

/**
 * What CALLER_SIDE commands move bytes with: the Runtime itself (--local), or the agent's
 * HTTP API (cli-remote.ts). Tars go to and from the caller's streams, never held whole.
 */
export interface CallerStreams {
  /** The container's info, or a 404: checked before the caller's files are touched. */
  get(ref: string): unknown;
  exec(ref: string, req: ExecRequest): ExecProcess | Promise<ExecProcess>;
  getArchive(ref: string, src: string, out: Writable): Promise<void>;
  copyIn(ref: string, dest: string, tar: Readable): Promise<void>;
  export(ref: string, out: Writable): Promise<void>;
  images: {
    resolve(ref: string): unknown;
    importTar(tar: Readable, name: string, config?: Partial<ImageConfig>): Promise<ImageInfo>;
    save(refs: string[], out: Writable, opts: { gzip?: boolean }): Promise<unknown>;
    exportLayout(refs: string[], dir: string, opts: { gzip?: boolean }): Promise<unknown>;
    load(source: string | Readable, opts: { name?: string }): Promise<ImageInfo[]>;
  };
}

export interface CliOptions {
  runtime(): Runtime;
  /** For CALLER_SIDE commands. */
  streams(): CallerStreams;
  /** Host set-up (bridge, firewall) and clean-up after dead containers; the agent did it at its start. */
  init(): Promise<void>;
}

/** Commands that read the caller's stdin or terminal, or its files by relative path: run in the caller's process. */
export const CALLER_SIDE = new Set(["exec", "export", "cp", "import", "save", "load"]);

/** An explicit exit code (a container's, for `run`); thrown so that `finally` blocks still run. */
class Exit {
  constructor(readonly code: number) {}
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd()).join("\n");
}

function human(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)}kB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)}MB`;
  return `${(n / 1024 ** 3).toFixed(2)}GB`;
}

function ago(iso?: string): string {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

const CHANGE_HELP = "CMD [..] / ENTRYPOINT [..] / ENV K=V / WORKDIR d / USER u / EXPOSE n / LABEL K=V (repeatable)";

/** `commit` and `import` -c/--change: Dockerfile-like instructions for the image's config. */
function parseChanges(changes: string[] | undefined): Partial<ImageConfig> {
  const conf: Partial<ImageConfig> = {};
  for (const ch of changes ?? []) {
    const m = /^(\w+)\s+(.*)$/s.exec(ch.trim());
    if (!m) throw new UsageError(`invalid --change "${ch}": use an instruction and its value, e.g. "CMD [\\"node\\", \\"server.js\\"]"`);
    const [, instr, arg] = m;
    const list = () => {
      if (!arg.trim().startsWith("[")) return ["/bin/sh", "-c", arg];
      try {
        const v = JSON.parse(arg) as unknown;
        if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
      } catch {}
      throw new UsageError(`invalid --change "${ch}": a JSON array of strings, or a shell command without [`);
    };
    const kv = (): [string, string] => {
      const i = arg.indexOf("=");
      if (i <= 0) throw new UsageError(`invalid --change "${ch}": use ${instr.toUpperCase()} KEY=VALUE`);
      return [arg.slice(0, i), arg.slice(i + 1)];
    };
    switch (instr.toUpperCase()) {
      case "CMD": conf.cmd = list(); break;
      case "ENTRYPOINT": conf.entrypoint = list(); break;
      case "WORKDIR": conf.workdir = arg; break;
      case "USER": conf.user = arg; break;
      case "EXPOSE": conf.exposedPorts = arg.split(/\s+/).map((p) => parseNumber("EXPOSE", p.split("/")[0], { integer: true, min: 1 })); break;
      case "ENV": { const [k, v] = kv(); conf.env = { ...conf.env, [k]: v }; break; }
      case "LABEL": { const [k, v] = kv(); conf.labels = { ...conf.labels, [k]: v }; break; }
      default: throw new UsageError(`--change ${instr} is not supported: use CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE or LABEL`);
    }
  }
  return conf;
}

function collect(v: string, prev: string[] = []) {
  return [...prev, v];
}

function buildProgram(io: CliIo, opts: CliOptions): Command {
  const say = (s: unknown) => void io.stdout.write(`${s}\n`);
  const warn = (s: unknown) => void io.stderr.write(`${s}\n`);
  const program = new Command("paas-runtime")
    // errors and help through io, and no process.exit (the agent serves many callers)
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .description("the PaaS container runtime on this host (state: $PAAS_DATA_DIR/runtime, shared with the agent)")
    .enablePositionalOptions()
    .showHelpAfterError()
    // cli.ts takes it off before the command runs: through the agent it is refused here
    .option("--local", "recovery while no agent runs: the command in this process, on the data dir's files (refused while an agent runs)")
    .hook("preAction", (cmd) => {
      if (cmd.opts().local) throw new UsageError("--local runs a command without the agent, in the caller's process; the agent does not take it");
    });

  // ---------- containers ----------

  function addCreateOptions(c: Command): Command {
    return c
      .option("--name <name>", "container name (unique on the host)")
      .option("--hostname <name>")
      .option("-e, --env <K=V>", "environment variable (repeatable)", collect)
      .option("-w, --workdir <dir>")
      .option("-m, --memory <size>", "memory limit, e.g. 64m", "256m")
      .option("--cpus <n>", "CPU limit in cores, e.g. 0.5")
      .option("--pids-limit <n>", "max processes")
      .option("--cpu-shares <n>", "relative CPU weight, 2..262144 (default 1024)")
      .option("--disk <size>", "size cap of the writable layer, e.g. 512m (ENOSPC beyond)")
      .option("--device-read-bps <size>", "disk read rate cap per second, e.g. 10m")
      .option("--device-write-bps <size>", "disk write rate cap per second, e.g. 10m")
      .option("--net-rate <kbit>", "network rate cap in kbit/s, each direction")
      .option("--network <mode>", "bridge, none, or container:<id|name> (join that container's network namespace: a pod)", "bridge")
      .option("--net <mode>", "same as --network")
      .option("-v, --volume <name:/path[:ro]>", "mount a named volume (made when missing; repeatable)", collect)
      .option("--volumes-from <container>", "mount every volume of that container at the same paths")
      .option("--restart <policy>", "no, on-failure[:max-retries] or always")
      .option("--egress", "allow connections beyond the host")
      .option("-l, --label <K=V>", "label (repeatable)", collect)
      .option("--cgroup-parent <path>", "cgroup path below the runtime's root (team/app)", "cli")
      .argument("<image>")
      .argument("[cmd...]")
      .passThroughOptions();
  }

  function kv(list: string[] | undefined, flag: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const s of list ?? []) {
      const i = s.indexOf("=");
      if (i <= 0) {
        // docker: `-e NAME` takes the value from our environment
        if (flag === "-e" && i < 0 && io.env[s] !== undefined) out[s] = io.env[s]!;
        else throw new UsageError(`invalid ${flag} "${s}": use KEY=VALUE`);
      } else out[s.slice(0, i)] = s.slice(i + 1);
    }
    return out;
  }

  function specFrom(image: string, cmd: string[], o: Record<string, unknown>): ContainerSpec {
    if (!/^[a-z0-9]/.test(image)) throw new UsageError(`invalid image name "${image}": use repo[:tag] (lowercase), e.g. stack/busybox`);
    const net = String(o.net ?? o.network);
    if (net !== "bridge" && net !== "none" && !/^container:[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(net)) throw new UsageError(`invalid --network "${net}": use bridge, none or container:<id|name>`);
    const volumes = ((o.volume as string[]) ?? []).map((v) => {
      const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(\/[^:]*)(?::(ro|rw))?$/.exec(v);
      if (!m) throw new UsageError(`invalid -v "${v}": use NAME:/path[:ro] (named volumes; host paths are not mounted)`);
      return { name: m[1], path: m[2], ...(m[3] === "ro" ? { readOnly: true } : {}) };
    });
    let restart: { restart?: "no" | "on-failure" | "always"; restartMaxRetries?: number } = {};
    if (o.restart !== undefined) {
      const m = /^(no|always|on-failure)(?::(\d+))?$/.exec(String(o.restart));
      if (!m || (m[2] && m[1] !== "on-failure")) throw new UsageError(`invalid --restart "${o.restart}": use no, on-failure[:N] or always`);
      restart = { restart: m[1] as "no" | "on-failure" | "always", ...(m[2] ? { restartMaxRetries: Number(m[2]) } : {}) };
    }
    return {
      image,
      cmd: cmd.length ? cmd : undefined,
      name: o.name as string | undefined,
      hostname: o.hostname as string | undefined,
      env: kv(o.env as string[], "-e"),
      labels: kv(o.label as string[], "--label"),
      workdir: o.workdir as string | undefined,
      memoryBytes: parseSize("--memory", o.memory as string),
      cpuMillis: o.cpus !== undefined ? Math.round(parseNumber("--cpus", o.cpus as string, { min: 0.01 }) * 1000) : undefined,
      pidsLimit: o.pidsLimit !== undefined ? parseNumber("--pids-limit", o.pidsLimit as string, { integer: true, min: 1 }) : undefined,
      cpuShares: o.cpuShares !== undefined ? parseNumber("--cpu-shares", o.cpuShares as string, { integer: true, min: 2 }) : undefined,
      diskBytes: o.disk !== undefined ? parseSize("--disk", o.disk as string) : undefined,
      ioReadBps: o.deviceReadBps !== undefined ? parseSize("--device-read-bps", o.deviceReadBps as string) : undefined,
      ioWriteBps: o.deviceWriteBps !== undefined ? parseSize("--device-write-bps", o.deviceWriteBps as string) : undefined,
      netRateKbit: o.netRate !== undefined ? parseNumber("--net-rate", o.netRate as string, { integer: true, min: 8 }) : undefined,
      cgroupParent: o.cgroupParent as string,
      network: net as ContainerSpec["network"],
      egress: !!o.egress,
      ...(volumes.length ? { volumes } : {}),
      ...(o.volumesFrom ? { volumesFrom: o.volumesFrom as string } : {}),
      ...restart,
    };
  }

  /** Image must exist before anything is made: a clear error, not a half-made container. */
  function checkImage(rt: Runtime, image: string) {
    if (!rt.images.find(image)) throw new UsageError(`no image "${image}" on this host; list them with: paas-runtime images (or build the stacks: paas-runtime setup)`);
  }

  async function printLogs(rt: Runtime, id: string, follow: boolean, timestamps = false, tail?: number) {
    for await (const raw of rt.logLines(id, { follow, tail, signal: io.signal })) {
      const l = parseLogEntry(raw);
      (l.stream === "stderr" ? io.stderr : io.stdout).write(`${timestamps ? l.t + " " : ""}${l.line}\n`);
    }
  }

  addCreateOptions(program.command("run").description("create and start a container; print its output and exit with its code"))
    .option("--rm", "remove the container when it exits")
    .option("-d, --detach", "start it and print its id")
    .action(async (image: string, cmd: string[], o) => {
      trace?.("parsed");
      const rt = opts.runtime();
      const spec = specFrom(image, cmd, o);
      checkImage(rt, image);
      if (spec.network === "bridge") await opts.init();
      trace?.("init");
      const c = rt.create(spec);
      trace?.("created");
      if (o.detach) {
        await rt.start(c.id).catch(async (err) => {
          if (o.rm) await rt.remove(c.id, { force: true });
          throw err;
        });
        say(c.id);
        return;
      }
      let code = 125;
      let stopping = false;
      const onSig = () => {
        if (!stopping) (stopping = true), void rt.stop(c.id, 10);
      };
      io.onInterrupt(onSig);
      try {
        await rt.start(c.id);
        trace?.("started");
        await printLogs(rt, c.id, true);
        trace?.("logs done");
        // The follow ends when the container has exited: its code is on record. With --rm,
        // remove() frees what wait() would (one clean-up, not two).
        const info = rt.get(c.id);
        const w = o.rm && info.state === "exited" && info.exitCode !== undefined ? { exitCode: info.exitCode, oomKilled: !!info.oomKilled } : await rt.wait(c.id);
        trace?.("waited");
        code = w.exitCode;
        if (w.oomKilled) {
          warn(`paas-runtime: container ${c.name} was killed: out of memory (limit ${o.memory})`);
          code = 137;
        }
      } catch (err) {
        warn(`paas-runtime: ${(err as Error).message}`);
      } finally {
        if (o.rm) await rt.remove(c.id, { force: true }).catch(() => {});
        trace?.("removed");
      }
      throw new Exit(code);
    });

  addCreateOptions(program.command("create").description("create a container (not started); prints its id")).action(async (image: string, cmd: string[], o) => {
    const rt = opts.runtime();
    const spec = specFrom(image, cmd, o);
    checkImage(rt, image);
    say(rt.create(spec).id);
  });

  program
    .command("start")
    .description("start created or exited containers")
    .option("-a, --attach", "print the output and exit with the container's code (one container)")
    .argument("<container...>")
    .action(async (refs: string[], o) => {
      const rt = opts.runtime();
      await opts.init();
      for (const r of refs) {
        const c = await rt.start(r);
        if (o.attach) {
          await printLogs(rt, c.id, true);
          const w = await rt.wait(c.id);
          throw new Exit(w.oomKilled ? 137 : w.exitCode);
        }
        say(c.name);
      }
    });

  program
    .command("stop")
    .option("-t, --time <s>", "seconds before SIGKILL", "10")
    .argument("<container...>")
    .action(async (refs: string[], o) => {
      const rt = opts.runtime();
      const t = parseNumber("--time", o.time);
      for (const r of refs) say((await rt.stop(r, t)).name);
    });

  program
    .command("kill")
    .description("send a signal to the container's init (default SIGKILL)")
    .option("-s, --signal <sig>", "signal name or number", "KILL")
    .argument("<container...>")
    .action(async (refs: string[], o) => {
      const rt = opts.runtime();
      const sig = /^\d+$/.test(o.signal) ? Number(o.signal) : (`SIG${String(o.signal).toUpperCase().replace(/^SIG/, "")}` as NodeJS.Signals);
      if (typeof sig === "string" && os.constants.signals[sig] === undefined) throw new UsageError(`invalid --signal "${o.signal}": use a name like TERM or a number`);
      // the library's kill: a signal that ends the container counts as a stop by the user (no restart)
      for (const r of refs) say((await rt.kill(r, sig)).name);
    });

  program
    .command("rm")
    .option("-f, --force", "stop it first if it runs")
    .argument("<container...>")
    .action(async (refs: string[], o) => {
      const rt = opts.runtime();
      for (const r of refs) {
        await rt.remove(r, { force: o.force });
        say(r);
      }
    });

  program
    .command("ps")
    .option("-a, --all", "show exited and created containers too")
    .option("-q, --quiet", "ids only")
    .option("--json")
    .action((o) => {
      const list = opts.runtime()
        .list()
        .filter((c) => o.all || c.state === "running" || c.state === "paused");
      if (o.json) return say(JSON.stringify(list, null, 2));
      if (o.quiet) return list.forEach((c) => say(c.id.slice(0, 12)));
      const status = (c: ContainerInfo) =>
        c.state === "exited" ? `exited (${c.exitCode}${c.oomKilled ? ", OOM" : ""}) ${ago(c.finishedAt)}` : c.state === "running" ? `up since ${ago(c.startedAt)}` : c.state;
      say(table([["ID", "NAME", "IMAGE", "STATUS", "PID", "IP"], ...list.map((c) => [c.id.slice(0, 12), c.name, c.image, status(c), String(c.pid ?? ""), c.ip ?? ""])]));
    });

  program
    .command("inspect")
    .description("JSON of containers or images (containers first, as docker)")
    .option("--type <t>", "container or image")
    .argument("<ref...>")
    .action((refs: string[], o) => {
      const rt = opts.runtime();
      const out = refs.map((r) => {
        if (o.type !== "image") {
          try {
            return { ...rt.inspect(r), kind: "container" };
          } catch (err) {
            if (o.type === "container" || (err as RuntimeError).status !== 404) throw err;
          }
        }
        const img = rt.images.find(r);
        if (!img) throw new RuntimeError(`no container or image "${r}" on this host`, 404);
        return { ...img, kind: "image", ociConfig: JSON.parse(rt.images.ociConfig(img.id)) };
      });
      say(JSON.stringify(out, null, 2));
    });

  program
    .command("logs")
    .option("-f, --follow")
    .option("-n, --tail <n>")
    .option("-t, --timestamps")
    .argument("<container>")
    .action(async (ref: string, o) => {
      await printLogs(opts.runtime(), ref, !!o.follow, !!o.timestamps, o.tail !== undefined ? parseNumber("--tail", o.tail, { integer: true }) : undefined);
    });

  program
    .command("wait")
    .description("block until containers exit; print their exit codes")
    .argument("<container...>")
    .action(async (refs: string[]) => {
      const rt = opts.runtime();
      let last = 0;
      for (const r of refs) {
        const w = await rt.wait(r);
        last = w.oomKilled ? 137 : w.exitCode;
        say(last);
      }
    });

  for (const verb of ["pause", "unpause"] as const) {
    program
      .command(verb)
      .description(verb === "pause" ? "freeze every process of containers (cgroup freezer)" : "thaw paused containers")
      .argument("<container...>")
      .action(async (refs: string[]) => {
        for (const r of refs) say((await opts.runtime()[verb](r)).name);
      });
  }

  program
    .command("exec")
    .description("run a command in a running container (its namespaces, cgroups, uid/gid and env); exits with its code")
    .option("-i, --interactive", "pass stdin to the command")
    .option("-t, --tty", "a terminal for the command (when stdin and stdout are one; else plain pipes, as ssh does)")
    .option("-e, --env <K=V>", "extra environment (repeatable)", collect)
    .option("-w, --workdir <dir>")
    .option("-u, --user <uid[:gid]>", "numeric user (default: the container's)")
    .argument("<container>")
    .argument("<cmd...>")
    .passThroughOptions()
    .action(async (ref: string, cmd: string[], o) => {
      let user: ExecRequest["user"];
      if (o.user) {
        const [u, g] = String(o.user).split(":");
        const uid = parseNumber("--user", u, { integer: true });
        user = { uid, gid: g !== undefined ? parseNumber("--user", g, { integer: true }) : uid };
      }
      const term = o.tty ? io.terminal : undefined;
      // a terminal that reports no size (0x0, as script's from a pipe) keeps the kernel's default
      const size = () => {
        const s = term?.size();
        return s && s.rows > 0 && s.cols > 0 ? s : undefined;
      };
      const p = await opts.streams().exec(ref, { cmd, env: kv(o.env, "-e"), workdir: o.workdir, user, tty: !!term, size: size() });
      const drained = [p.stdout, p.stderr].map((s) => new Promise((r) => s.once("end", r)));
      p.stdout.pipe(io.stdout, { end: false });
      p.stderr.pipe(io.stderr, { end: false });
      if (o.interactive) io.stdin.pipe(p.stdin as Writable);
      else p.stdin.end();
      if (term) {
        term.setRaw(true);
        term.onResize(() => {
          const s = size();
          if (s) p.resize(s.rows, s.cols);
        });
      }
      try {
        const code = await p.exit;
        await Promise.all(drained);
        throw new Exit(code);
      } finally {
        term?.setRaw(false);
        io.stdin.unpipe(p.stdin as Writable);
      }
    });

  program
    .command("top")
    .description("the processes of a container")
    .argument("<container>")
    .action((ref: string) => {
      const { titles, processes } = opts.runtime().top(ref);
      say(table([titles, ...processes]));
    });

  program
    .command("stats")
    .description("memory, CPU and process count of running containers (from their cgroups)")
    .option("--no-stream", "(default) one sample; CPU measured over 1 s")
    .option("--json")
    .argument("[container...]")
    .action(async (refs: string[], o) => {
      const rt = opts.runtime();
      const list = refs.length ? refs.map((r) => rt.get(r)) : rt.list().filter((c) => c.state === "running" || c.state === "paused");
      const cpu0 = list.map((c) => rt.stats(c.id).cpuUsageNs);
      const t0 = process.hrtime.bigint();
      await new Promise((r) => setTimeout(r, 1000));
      const dt = Number(process.hrtime.bigint() - t0);
      const rows = list.map((c, i) => {
        const st = rt.stats(c.id);
        const cpu = ((st.cpuUsageNs - cpu0[i]) / dt) * 100;
        return { id: c.id, name: c.name, cpuPercent: Math.round(cpu * 100) / 100, memoryBytes: st.memoryBytes, memoryLimitBytes: st.memoryLimitBytes, pids: st.pids };
      });
      if (o.json) return say(JSON.stringify(rows, null, 2));
      say(table([
        ["ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"],
        ...rows.map((r) => [r.id.slice(0, 12), r.name, r.cpuPercent.toFixed(2) + "%", `${human(r.memoryBytes)} / ${r.memoryLimitBytes ? human(r.memoryLimitBytes) : "-"}`, r.memoryLimitBytes ? ((r.memoryBytes / r.memoryLimitBytes) * 100).toFixed(2) + "%" : "", String(r.pids)]),
      ]));
    });

  program
    .command("diff")
    .description("files the container added (A), changed (C) or deleted (D) against its image")
    .argument("<container>")
    .action(async (ref: string) => {
      for (const d of await opts.runtime().diff(ref)) say(`${d.kind} ${d.path}`);
    });

  program
    .command("export")
    .description("the container's root filesystem as a tar")
    .option("-o, --output <file>", "write to a file instead of stdout")
    .argument("<container>")
    .action(async (ref: string, o) => {
      const streams = opts.streams();
      await streams.get(ref); // a 404 before anything is written
      if (!o.output && io.isTTY) throw new UsageError("refusing to write a tar to a terminal: use -o FILE or redirect");
      await streams.export(ref, o.output ? fs.createWriteStream(o.output) : io.stdout);
    });

  program
    .command("commit")
    .description("the container's writable layer as a new image on top of its image's")
    .option("-c, --change <instr>", CHANGE_HELP, collect)
    .argument("<container>")
    .argument("<name>", "NAME[:TAG]")
    .action(async (ref: string, name: string, o) => {
      checkName(name);
      const img = await opts.runtime().commit(ref, name, parseChanges(o.change));
      say(img.id);
    });

  program
    .command("cp")
    .description("copy files: cp CONTAINER:SRC DEST (- for a tar on stdout) or cp SRC CONTAINER:DEST")
    .argument("<src>")
    .argument("<dest>")
    .action(async (src: string, dest: string) => {
      const rt = opts.streams();
      const split = (s: string) => {
        const i = s.indexOf(":");
        return i > 0 && !s.startsWith("/") && !s.startsWith(".") ? ([s.slice(0, i), s.slice(i + 1)] as const) : undefined;
      };
      const from = split(src);
      const to = split(dest);
      if (!!from === !!to) throw new UsageError("cp copies between a container and the host: cp CONTAINER:SRC DEST or cp SRC CONTAINER:DEST");
      if (from) {
        if (dest === "-") return rt.getArchive(from[0], from[1], io.stdout);
        // into a host dir (under the same name), or to a host path (renamed): the tar's top entry renamed
        const isDir = fs.existsSync(dest) && fs.statSync(dest).isDirectory();
        const name = isDir ? path.posix.basename(path.posix.normalize(from[1])) || "." : path.basename(dest);
        const x = spawn("tar", ["-C", isDir ? dest : path.dirname(dest), "-xf", "-", "--no-same-owner", "--transform", `s|^[^/]*|${name}|`], { stdio: ["pipe", "inherit", "inherit"] });
        const exit = new Promise<number>((r) => x.on("close", (c) => r(c ?? 1)));
        try {
          await rt.getArchive(from[0], from[1], x.stdin);
        } finally {
          x.stdin.end();
        }
        throw new Exit(await exit);
      }
      const [cref, cpath] = to!;
      await rt.get(cref); // a 404 before the host's files are read
      if (!fs.existsSync(src)) throw new UsageError(`no ${src} on this host`);
      const t = spawn("tar", ["-C", path.dirname(path.resolve(src)), "-cf", "-", path.basename(path.resolve(src))], { stdio: ["ignore", "pipe", "inherit"] });
      await rt.copyIn(cref, cpath, t.stdout);
    });

  // ---------- images ----------

  program
    .command("images")
    .option("-q, --quiet", "ids only")
    .option("--json")
    .action((o) => {
      const list = opts.runtime().images.list();
      if (o.json) return say(JSON.stringify(list, null, 2));
      if (o.quiet) return list.forEach((i) => say(i.id.slice(7, 19)));
      const rows = list.flatMap((i) => (i.names.length ? i.names : ["<none>:<none>"]).map((n) => [n.slice(0, n.lastIndexOf(":")), n.slice(n.lastIndexOf(":") + 1), i.id.slice(7, 19), ago(i.createdAt), String(i.layers.length), human(i.sizeBytes)]));
      say(table([["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "LAYERS", "SIZE"], ...rows.sort((a, b) => a[0].localeCompare(b[0]))]));
    });

  program
    .command("tag")
    .argument("<source>", "image name or id")
    .argument("<target>", "NAME[:TAG]")
    .action((src: string, target: string) => {
      opts.runtime().images.tag(src, target);
    });

  program
    .command("history")
    .description("the steps that made an image, newest first, with their layer sizes")
    .option("--no-trunc")
    .option("--json")
    .argument("<image>")
    .action((ref: string, o) => {
      const rows = opts.runtime().images.history(ref);
      if (o.json) return say(JSON.stringify(rows, null, 2));
      const cut = (s: string) => (o.trunc && s.length > 60 ? s.slice(0, 59) + "…" : s);
      say(table([["LAYER", "CREATED", "CREATED BY", "SIZE", "COMMENT"], ...rows.map((r) => [r.layer ? r.layer.slice(7, 19) : "<none>", ago(r.created), cut(r.created_by ?? ""), human(r.sizeBytes), cut(r.comment ?? "")])]));
    });

  program
    .command("rmi")
    .description("remove image names; the image and its unused layers go with the last one")
    .option("-f, --force", "untag even while containers use it")
    .argument("<image...>")
    .action((refs: string[], o) => {
      const rt = opts.runtime();
      for (const r of refs) for (const x of rt.images.remove(r, !!o.force)) say(x.startsWith("sha256:") ? `Deleted: ${x}` : `Untagged: ${x}`);
    });

  program
    .command("prune")
    .description("garbage collection: images without a name and layers nothing references")
    .action(() => {
      const rt = opts.runtime();
      const r = rt.images.prune();
      for (const i of r.images) say(`Deleted image: ${i}`);
      for (const l of r.layers) say(`Deleted layer: ${l}`);
      say(`Total reclaimed: ${human(r.bytes)}`);
    });

  program
    .command("import")
    .description("a root filesystem tarball (plain or gzip) as a one-layer image")
    .option("-c, --change <instr>", CHANGE_HELP, collect)
    .argument("<tar>", "tar file, or - for stdin")
    .argument("<name>", "NAME[:TAG]")
    .action(async (file: string, name: string, o) => {
      checkName(name);
      const conf = parseChanges(o.change);
      if (file !== "-" && !fs.existsSync(file)) throw new UsageError(`no file ${file}`);
      let stream: Readable = file === "-" ? io.stdin : fs.createReadStream(file);
      // gzip'd tarballs too (magic 1f 8b)
      if (file !== "-") {
        const fd = fs.openSync(file, "r");
        const b = Buffer.alloc(2);
        fs.readSync(fd, b, 0, 2, 0);
        fs.closeSync(fd);
        if (b[0] === 0x1f && b[1] === 0x8b) stream = stream.pipe((await import("node:zlib")).createGunzip());
      }
      const img = await opts.streams().images.importTar(stream, name, conf);
      say(img.id);
    });

  program
    .command("save")
    .description("images as a tar: OCI image layout + docker's manifest.json (docker load reads it)")
    .option("-o, --output <file>", "write to a file instead of stdout")
    .option("--gzip", "gzip the layers")
    .option("--oci-dir <dir>", "write an OCI image layout directory instead of a tar")
    .argument("<image...>")
    .action(async (refs: string[], o) => {
      const rt = opts.streams();
      for (const r of refs) await rt.images.resolve(r);
      if (o.ociDir) {
        await rt.images.exportLayout(refs, o.ociDir, { gzip: o.gzip });
        return;
      }
      if (!o.output && io.isTTY) throw new UsageError("refusing to write a tar to a terminal: use -o FILE or redirect");
      await rt.images.save(refs, o.output ? fs.createWriteStream(o.output) : io.stdout, { gzip: o.gzip });
    });

  program
    .command("load")
    .description("images from an OCI layout (dir or tar) or a docker save tar")
    .option("-i, --input <file>", "tar file or OCI layout dir (default: stdin)")
    .option("--name <name>", "name for the image (an archive with one image)")
    .action(async (o) => {
      const imgs = await opts.streams().images.load(o.input ?? io.stdin, { name: o.name });
      for (const i of imgs) say(`Loaded image: ${i.names.join(", ") || i.id}${i.names.length ? ` (${i.id.slice(7, 19)})` : ""}`);
    });

  program
    .command("setup")
    .description("build the stacks (stack/busybox, stack/node, stack/python) when missing or stale")
    .action(async () => {
      const built = await opts.runtime().images.ensureStacks((m) => say(m));
      if (!built.length) say("stacks already present and current");
    });

  program.addOption(new Option("--debug", "print stack traces").hideHelp());
  return program;
}

/**
 * Runs one command line (argv without node and script). Resolves with the exit code when
 * the command gave one (`run`, `start -a`, errors), undefined when it simply finished (the
 * local CLI then lets the process end by itself).
 */
export async function runCli(argv: string[], io: CliIo, opts: CliOptions): Promise<number | undefined> {
  try {
    await buildProgram(io, opts).parseAsync(argv, { from: "user" });
    return undefined;
  } catch (err) {
    if (err instanceof Exit) return err.code;
    // commander printed its message (or the help) already
    if (err instanceof CommanderError) return err.exitCode;
    io.stderr.write(`paas-runtime: ${(err as Error).message}\n`);
    if (io.env.PAAS_DEBUG) io.stderr.write(`${(err as Error).stack}\n`);
    const status = (err as RuntimeError).status;
    return err instanceof UsageError || status === 400 || status === 404 ? 125 : 1;
  }
}
