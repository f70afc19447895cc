/**
 * Restart policies and the supervisor that applies them (run by the agent).
 *
 *   spec.restart: "no" (default) | "on-failure" (exit code != 0) | "always"
 *   spec.restartMaxRetries: on-failure gives up after this many restarts
 *
 * Backoff: 100 ms before the first restart, doubling up to 30 s; a run of 10 s or more
 * resets it. A stop or remove by the user is never undone. The bookkeeping lives in
 * containers/<id>/restart.json (count, last delay, when the next start is due and for
 * which exit), so a restarted agent carries on where the last one stopped: a restart
 * due while no agent ran happens as soon as one is back.
 *
 * The supervisor also frees what an exited container holds (cgroups, network) as soon as
 * it sees the exit, whether or not anyone waits for it. It sees it by an inotify watch on each
 * running container (the monitor writes its exit status), so an idle agent does not wake; a
 * periodic scan catches what no file event reports (a monitor killed before it wrote the
 * status: reapLost() writes it, and the watch then fires).
 *
 *   const sup = new Supervisor(rt); sup.start(); ... sup.stop();
 *
 * The supervisor knows the runtime only through the narrow `Supervised` interface below
 * (Runtime implements it), so this module imports nothing of the task service that imports it.
 */
import fs from "node:fs";
import path from "node:path";
import type { ContainerInfo, ContainerSpec } from "@paas/shared/agent-api";
import { readJson, writeJson } from "./util.ts";

export const BACKOFF = { firstMs: 100, maxMs: 30_000, resetAfterMs: 10_000 };

export interface RestartState {
  /** Restarts done by the supervisor since the user's last start. */
  count: number;
  /** Delay used before the last (or the planned) restart. */
  delayMs: number;
  /** When the planned restart is due (epoch ms), and the exit (finishedAt) it answers. */
  dueAt?: number;
  forExit?: string;
  /** That exit's code and whether the memory limit killed it (kept once the container runs again). */
  exitCode?: number;
  oomKilled?: boolean;
  /** Set by a user's stop: the container stays down. */
  stoppedByUser?: boolean;
}

export const RESTART_FILE = "restart.json";

export function readRestartState(containerDir: string): RestartState {
  try {
    return readJson<RestartState>(path.join(containerDir, RESTART_FILE)) ?? { count: 0, delayMs: 0 };
  } catch {
    return { count: 0, delayMs: 0 };
  }
}

export function writeRestartState(containerDir: string, st: RestartState) {
  if (fs.existsSync(containerDir)) writeJson(path.join(containerDir, RESTART_FILE), st);
}

/**
 * The restart to plan after an exit, or undefined when the container stays down.
 * Idempotent per exit: planning the same exit again returns the plan already made.
 */
export function planRestart(
  spec: Pick<ContainerSpec, "restart" | "restartMaxRetries">,
  st: RestartState,
  exit: { exitCode: number; finishedAt: string },
  startedAt: string,
): { dueAt: number; delayMs: number } | undefined {
  const policy = spec.restart ?? "no";
  if (policy === "no" || st.stoppedByUser) return undefined;
  if (policy === "on-failure") {
    if (exit.exitCode === 0) return undefined;
    if (spec.restartMaxRetries !== undefined && st.count >= spec.restartMaxRetries) return undefined;
  }
  if (st.forExit === exit.finishedAt && st.dueAt !== undefined) return { dueAt: st.dueAt, delayMs: st.delayMs };
  const ran = Date.parse(exit.finishedAt) - Date.parse(startedAt);
  const delayMs = !st.delayMs || ran >= BACKOFF.resetAfterMs ? BACKOFF.firstMs : Math.min(st.delayMs * 2, BACKOFF.maxMs);
  return { delayMs, dueAt: Date.parse(exit.finishedAt) + delayMs };
}

/** What the supervisor needs of the runtime. */
export interface Supervised {
  /** Set by the supervisor: called after every successful start. */
  onStart?: (id: string) => void;
  list(): Pick<ContainerInfo, "id" | "state" | "finishedAt">[];
  get(id: string): Pick<ContainerInfo, "finishedAt">;
  /** Has the container's monitor recorded its exit, or is the container gone? (one stat) */
  exitedOrGone(id: string): boolean;
  /** Records the exit of containers whose monitor died without writing it (killed): no file event tells. */
  reapLost(): void;
  /** Calls onChange when that may have happened; the watch's close, or undefined when none could be made. */
  watchExit(id: string, onChange: () => void): (() => void) | undefined;
  /** Frees what an exited container holds and plans its restart, or undefined when it stays down. */
  afterExit(id: string): Promise<{ dueAt: number; delayMs: number } | undefined>;
  /** Starts an exited container again (not one the user stopped); false when the start failed. */
  restartExited(id: string): Promise<boolean>;
}

export class Supervisor {
  private slow?: NodeJS.Timeout;
  /** Containers seen running, each with its watch's close (undefined: no watch, the scan looks). */
  private running = new Map<string, (() => void) | undefined>();
  private timers = new Map<string, NodeJS.Timeout>();
  private busy = new Set<string>();
  /** Exits already dealt with (id -> finishedAt), so the periodic scan does not redo them. */
  private handled = new Map<string, string>();
  /** After stop(): a restart still under way must not leave a watch behind that restarts again. */
  private stopped = false;

  constructor(
    readonly rt: Supervised,
    readonly opts: { scanMs?: number; log?: (m: string) => void } = {},
  ) {}

  start() {
    this.stopped = false;
    this.rt.onStart = (id) => this.track(id);
    void this.scan();
    // A safety net only: exits come through the watches; each scan reads every container's state.
    this.slow = setInterval(() => void this.scan(), this.opts.scanMs ?? 5000);
    this.slow.unref();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.slow);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const close of this.running.values()) close?.();
    this.running.clear();
    if (this.rt.onStart) this.rt.onStart = undefined;
  }

  /** Follows a running container: its exit wakes us through the runtime's watch. */
  private track(id: string) {
    if (this.stopped || this.running.has(id)) return;
    this.running.set(id, this.rt.watchExit(id, () => this.check(id)));
    this.check(id); // it may have exited before the watch was made
  }

  private check(id: string) {
    if (this.running.has(id) && this.rt.exitedOrGone(id)) {
      this.running.get(id)?.();
      this.running.delete(id);
      void this.onExit(id);
    }
  }

  /** Every container: running ones tracked, exited ones cleaned and (per policy) scheduled. */
  private async scan() {
    let list;
    try {
      this.rt.reapLost();
      list = this.rt.list();
    } catch {
      return;
    }
    for (const c of list) {
      if (c.state === "running") this.track(c.id);
      else if (c.state === "exited" && !this.timers.has(c.id) && this.handled.get(c.id) !== c.finishedAt) await this.onExit(c.id, c.finishedAt);
    }
  }

  private async onExit(id: string, finishedAt?: string) {
    if (this.busy.has(id)) return;
    this.busy.add(id);
    try {
      const plan = await this.rt.afterExit(id);
      this.handled.set(id, finishedAt ?? this.rt.get(id).finishedAt ?? "");
      if (plan && !this.timers.has(id) && !this.stopped) {
        const t = setTimeout(() => {
          this.timers.delete(id);
          void this.restart(id);
        }, Math.max(0, plan.dueAt - Date.now()));
        this.timers.set(id, t);
      }
    } catch (err) {
      if ((err as { status?: number }).status !== 404) this.opts.log?.(`supervisor: ${id}: ${(err as Error).message}`);
    } finally {
      this.busy.delete(id);
    }
  }

  private async restart(id: string) {
    try {
      const ok = await this.rt.restartExited(id);
      if (ok) this.track(id);
      else void this.onExit(id); // the start failed: planned again with a longer delay
    } catch (err) {
      if ((err as { status?: number }).status !== 404) this.opts.log?.(`supervisor: restart of ${id}: ${(err as Error).message}`);
    }
  }
}
