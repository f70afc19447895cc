/**
 * The container store: the metadata of every container on this host, and the state derived
 * from what its monitor leaves on disk (containerd's metadata store).
 *
 * A container is a directory containers/<id>/ holding its record (config.json) and, once
 * started, the files of its monitor: pid, monitor.pid, status.json at exit (log.ndjson is the
 * log store's, logs.ts). One process writes them, the agent (or, while none runs, a CLI with
 * --local), so the state is read from the files alone: no pid is checked on a read.
 *
 * Use:
 *   const store = new ContainerStore(layout.containers, layout.trash);
 *   store.add(rec);                               // its dir with upper/, work/, rootfs/, and the record
 *   const rec = store.find("web");               // by id, name or id prefix (6+); 404 otherwise
 *   store.state(rec);                            // { state: "created" | "running" | "exited", status? }
 *   store.reapLost(rec);                         // adoption: a monitor that died unrecorded -> exited
 *   store.initPid(rec);                          // the container's init (host pid) while it runs
 *   rec.net = undefined; store.save(rec);
 *   store.discard(rec.id);                       // gone from listings at once; files deleted after
 *   await store.idle();                          // ...and here they are
 *
 * State: no startedAt -> created; status.json -> exited; else running (a start under way, before
 * its monitor is up, too). A monitor that dies without writing status.json (SIGKILL, a host
 * reboot) is the one case the files cannot tell: reapLost() writes its exit on its behalf
 * (code 255) after checking the pid, and only adoption (TaskService.recover, at start) and the
 * supervisor's periodic scan call it.
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

  /**
   * Is the monitor that monitor.pid names alive? That pid's /proc/<pid>/stat, read once: a
   * paas-monitor (after a host reboot the file may name an unrelated process) that is not a
   * zombie (a killed monitor whose parent died stays one where pid 1 does not reap).
   */
  private monitorAlive(rec: ContainerRecord): boolean {
    const pid = this.readPid(rec, "monitor.pid");
    if (!pid) return false;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const state = stat[close + 2];
      return stat.slice(stat.indexOf("(") + 1, close) === "paas-monitor" && state !== "Z" && state !== "X";
    } catch {
      return false;
    }
  }

  /** The monitor has recorded the exit, or is not up (it died, or never came up). */
  monitorGone(rec: ContainerRecord): boolean {
    return this.status(rec) !== undefined || !this.monitorAlive(rec);
  }

  state(rec: ContainerRecord): RunState {
    if (!rec.startedAt) return { state: "created" };
    const status = this.status(rec);
    return status ? { state: "exited", status } : { state: "running" };
  }

  /**
   * A started container without a recorded exit whose monitor is gone (killed, the host
   * rebooted, or a start cut short that never brought it up): its exit is written on the
   * monitor's behalf, code 255, so every reader sees it exited. `starting`: a start may be
   * under way in this process, so no monitor.pid yet means "not up yet", not "gone". True
   * when it wrote one.
   */
  reapLost(rec: ContainerRecord, opts: { starting?: boolean } = {}): boolean {
    if (!rec.startedAt || this.status(rec)) return false;
    if (opts.starting && this.readPid(rec, "monitor.pid") === undefined) return false;
    if (this.monitorAlive(rec)) return false;
    const file = path.join(this.dir(rec.id), STATUS_FILE);
    const tmp = `${file}.${process.pid}.lost`;
    fs.writeFileSync(tmp, JSON.stringify({ exitCode: 255, signal: 0, oomKilled: false, finishedAt: new Date().toISOString() } satisfies ExitStatus));
    try {
      // a link, not a rename: the monitor's own status, written meanwhile, wins
      fs.linkSync(tmp, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
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
