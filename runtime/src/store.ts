/**
 * The container store: the metadata of every container on this host, and the state derived
 * from what its monitor leaves on disk (containerd's metadata store).
 *
 * A container is a directory containers/<id>/ holding its record (config.json) and, once
 * started, the files of its monitor: pid, monitor.pid, status.json at exit (log.ndjson is the
 * log store's, logs.ts). Nothing else writes them, so the state read here is the truth for
 * every process on the host (the agent, a local CLI).
 *
 * Use:
 *   const store = new ContainerStore(layout.containers, layout.trash);
 *   store.add(rec);                               // its dir with upper/, work/, rootfs/, and the record
 *   const rec = store.find("web");               // by id, name or id prefix (6+); 404 otherwise
 *   store.state(rec);                            // { state: "created" | "running" | "exited", status? }
 *   store.initPid(rec);                          // the container's init (host pid) while it runs
 *   rec.net = undefined; store.save(rec);
 *   store.discard(rec.id);                       // gone from listings at once; files deleted after
 *   await store.idle();                          // ...and here they are
 *
 * State: no startedAt -> created; status.json -> exited; else the monitor alive -> running (a
 * monitor that died without status -> exited, code 255). A start under way in a live process
 * (startedBy, before its monitor is up) reads as running.
 */
import fs from "node:fs";
import path from "node:path";
import type { ContainerInfo, ContainerSpec, ImageConfig, VolumeMount } from "@paas/shared/agent-api";
import type { Attachment } from "./network.ts";
import { RuntimeError, exists, randomHex, readJson, writeJson } from "./util.ts";

export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  imageId: string;
  layers: string[];
  config: ImageConfig;
  spec: ContainerSpec;
  hostname: string;
  uid: number;
  gid: number;
  createdAt: string;
  startedAt?: string;
  /** The process that made its last start: before its monitor is up (no monitor.pid), a start under way there. */
  startedBy?: number;
  net?: Attachment;
  cgroupPath: string;
  /** Pod member: the container whose network namespace this one joins. */
  netOwner?: string;
  /** Volumes to mount: the spec's and those of volumesFrom, resolved at create. */
  mounts?: VolumeMount[];
  /** Host id of the container's root (its team's range, userns.ts); absent: no user namespace. */
  usernsBase?: number;
}

/** The monitor's record of the exit. */
export interface ExitStatus {
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  finishedAt: string;
}

export interface RunState {
  state: Exclude<ContainerInfo["state"], "paused">;
  status?: ExitStatus;
}

/** Written by the monitor (tmp + rename) just before it exits. */
export const STATUS_FILE = "status.json";
const RECORD_FILE = "config.json";

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class ContainerStore {
  constructor(
    private readonly root: string,
    private readonly trash: string,
  ) {
    fs.mkdirSync(root, { recursive: true });
    fs.mkdirSync(trash, { recursive: true });
  }

  /** The container's directory (its monitor's files, its overlay parts). */
  dir(id: string): string {
    return path.join(this.root, id);
  }

  all(): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const id of fs.readdirSync(this.root)) {
      const r = this.load(id);
      if (r) out.push(r);
    }
    return out;
  }

  /** The record of this id, if there is one (no name lookup). */
  load(id: string): ContainerRecord | undefined {
    return readJson<ContainerRecord>(path.join(this.dir(id), RECORD_FILE));
  }

  find(ref: string): ContainerRecord {
    if (/^[0-9a-f]{32}$/.test(ref)) {
      const r = this.load(ref);
      if (r) return r;
    }
    const all = this.all();
    const r = all.find((c) => c.name === ref) ?? (ref.length >= 6 ? all.find((c) => c.id.startsWith(ref)) : undefined);
    if (!r) throw new RuntimeError(`no container "${ref}" on this host`, 404);
    return r;
  }

  save(rec: ContainerRecord) {
    writeJson(path.join(this.dir(rec.id), RECORD_FILE), rec);
  }

  /** A new container: its dir with the overlay's parts, then its record. */
  add(rec: ContainerRecord) {
    for (const d of ["upper", "work", "rootfs"]) fs.mkdirSync(path.join(this.dir(rec.id), d), { recursive: true });
    this.save(rec);
  }

  /** Has the container's monitor recorded its exit, or is the container gone? (one stat) */
  exitedOrGone(id: string): boolean {
    return exists(path.join(this.dir(id), STATUS_FILE)) || !exists(this.dir(id));
  }

  /**
   * Calls `onChange` when the monitor writes the container's exit status, or its dir goes (an
   * inotify watch: no polling). Returns the watch's close, or undefined when none could be made
   * (inotify limits, the dir gone): the caller must then look for itself.
   */
  watchExit(id: string, onChange: () => void): (() => void) | undefined {
    try {
      const w = fs.watch(this.dir(id), { persistent: false }, (_event, file) => {
        if (file === STATUS_FILE) onChange();
      });
      w.on("error", onChange); // e.g. the dir was removed
      return () => w.close();
    } catch {
      return undefined;
    }
  }

  private status(rec: ContainerRecord): ExitStatus | undefined {
    return readJson<ExitStatus>(path.join(this.dir(rec.id), STATUS_FILE));
  }

  private readPid(rec: ContainerRecord, file: "pid" | "monitor.pid"): number | undefined {
    try {
      const n = Number(fs.readFileSync(path.join(this.dir(rec.id), file), "utf8").trim());
      return n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** The container's init (host pid), as its monitor wrote it; check state() first. */
  initPid(rec: ContainerRecord): number | undefined {
    return this.readPid(rec, "pid");
  }

  private monitorAlive(rec: ContainerRecord): boolean {
    const pid = this.readPid(rec, "monitor.pid");
    if (!pid || !pidAlive(pid)) return false;
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "paas-monitor";
    } catch {
      return false;
    }
  }

  /** The monitor has recorded the exit, or is not up (it died, or never came up). */
  monitorGone(rec: ContainerRecord): boolean {
    return this.status(rec) !== undefined || !this.monitorAlive(rec);
  }

  /** A start of this container is under way in a process that lives: its monitor is not up yet. */
  private startingNow(rec: ContainerRecord): boolean {
    return rec.startedBy !== undefined && this.readPid(rec, "monitor.pid") === undefined && pidAlive(rec.startedBy);
  }

  state(rec: ContainerRecord): RunState {
    if (!rec.startedAt) return { state: "created" };
    const status = this.status(rec);
    if (status) return { state: "exited", status };
    if (this.monitorAlive(rec)) return { state: "running" };
    // Re-check: the monitor writes status.json just before it exits.
    const again = this.status(rec);
    if (again) return { state: "exited", status: again };
    // Being started by a live process (its monitor not up yet): running, for every reader.
    if (this.startingNow(rec)) return { state: "running" };
    return { state: "exited", status: { exitCode: 255, signal: 0, oomKilled: false, finishedAt: rec.startedAt } };
  }

  /** A new run begins: the last run's monitor files go (only once nothing can fail before the monitor). */
  clearRun(rec: ContainerRecord) {
    for (const f of [STATUS_FILE, "pid", "monitor.pid"]) fs.rmSync(path.join(this.dir(rec.id), f), { force: true });
  }

  // ---------- removal: the dir leaves at once, its files after ----------

  /** The deletion of removed containers' files under way, if any (see discard). */
  private deleter?: Promise<void>;

  /**
   * A removed container's dir leaves at once (a rename into trash/: gone from every listing,
   * its name free), and its files are deleted after: unlinking them costs ~2 ms a container
   * here, which a caller of remove() need not wait for. Without an id: what a process that
   * exited first left in trash/.
   */
  discard(id?: string) {
    try {
      if (id) fs.renameSync(this.dir(id), path.join(this.trash, `${id}.${randomHex(4)}`));
    } catch (err) {
      // removed meanwhile by another process: nothing left to discard
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.deleter ??= this.deleteTrash();
  }

  private async deleteTrash() {
    await null; // after discard() has set this.deleter
    const trash = this.trash;
    const stuck = new Set<string>();
    try {
      for (;;) {
        // (the data dir may be deleted meanwhile: then there is nothing left to do)
        const names = (exists(trash) ? fs.readdirSync(trash) : []).filter((n) => !stuck.has(n));
        // cleared in the same tick as the last look: a discard() after it starts a new deleter
        if (!names.length) return void (this.deleter = undefined);
        for (const n of names) {
          await fs.promises.rm(path.join(trash, n), { recursive: true, force: true }).catch((err) => {
            stuck.add(n);
            console.error(`runtime: cannot delete ${path.join(trash, n)} (a removed container's files): ${(err as Error).message}`);
          });
        }
      }
    } catch (err) {
      this.deleter = undefined;
      console.error(`runtime: deleting removed containers' files: ${(err as Error).message}`);
    }
  }

  /** Resolves when removed containers' files are deleted (a CLI about to exit waits for it). */
  async idle(): Promise<void> {
    while (this.deleter) await this.deleter;
  }
}
