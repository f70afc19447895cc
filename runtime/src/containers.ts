/**
 * The runtime of one host, as one object for the agent and the CLI: a facade over small
 * services, each the one owner of its state (containerd's cut):
 *   store.ts          ContainerStore   records under containers/<id>/ and the state derived from them
 *   tasks.ts          TaskService      create/start/stop/kill/wait, restart policies' steps, pause, team caps
 *   logs.ts           LogStore         the monitor's log files: format, rotation, follow
 *   files.ts          ContainerFiles   archives in and out, diff, export (no host path leaves)
 *   image-service.ts  ImageService     images, commit, GC roots (over images.ts, the image store)
 *   network.ts        BridgeNetwork    bridge, IPAM file, netns/veth per container, its own sweep
 *   volumes.ts        VolumeStore      named volumes
 *   cgroups.ts        CgroupDriver     v1 or v2
 *   helper.ts         HelperServer     the fork server every part that forks is given
 * A container's process is held by a detached `paas-run` monitor, so it outlives this
 * process (and the agent).
 *
 * Use:
 *   const rt = new Runtime({ dataDir, bridge, subnet, cgroupRoot });
 *   await rt.init();                                   // bridge + NAT; re-adopts what runs
 *   const c = rt.create({ image: "stack/node", memoryBytes: 256 << 20, cgroupParent: "t/app", network: "bridge", cmd: [...] });
 *   await rt.putArchive(c.id, "/app", tarStream);      // into the writable layer, before start
 *   await rt.start(c.id);                              // one helper request (+ one `ip -batch`)
 *   for await (const line of rt.logLines(c.id, { follow: true })) ...
 *   await rt.wait(c.id);                               // { exitCode, oomKilled }
 *   await rt.commit(c.id, "app/hello:v3");             // upper dir -> new layer on top of the image's
 *   rt.images.list(); rt.images.prune();               // the image service, used directly
 *   await rt.remove(c.id, { force: true });            // netns, veth, address, cgroups, dirs gone
 *   await rt.idle();                                   // removed containers' files deleted
 */
import type { Readable, Writable } from "node:stream";
import { spawnSync } from "node:child_process";
import type { ContainerInfo, ContainerSpec, ContainerStats, ContainerTop, ExecProcess, ExecRequest, ImageConfig, ImageInfo, TeamLimits, VolumeInfo, WaitResult } from "@paas/shared/agent-api";
import { type CgroupDriver, detectCgroupDriver } from "./cgroups.ts";
import { type ExecTarget, startExec } from "./exec.ts";
import { ContainerFiles } from "./files.ts";
import { HelperServer } from "./helper.ts";
import { ImageService } from "./image-service.ts";
import { ImageStore } from "./images.ts";
import { upperDir } from "./limits/container.ts";
import { closeDiskPool, diskPoolDir } from "./limits/diskpool.ts";
import { type LogReadOptions, LogStore } from "./logs.ts";
import { BridgeNetwork, readVethBytes, vethName } from "./network.ts";
import type { DiffEntry } from "./oci.ts";
import { Layout } from "./paths.ts";
import { ContainerStore } from "./store.ts";
import { TaskService } from "./tasks.ts";
import { RuntimeError } from "./util.ts";
import { VolumeStore } from "./volumes.ts";

export interface RuntimeOptions {
  dataDir: string;
  bridge: string;
  subnet: string;
  /** Cgroup path prefix below each controller's root, e.g. "paas". */
  cgroupRoot: string;
  cgroupDriver?: CgroupDriver;
  /** The fork server (one per runtime unless given: tests share one, or slow it down). */
  helper?: HelperServer;
}

/** What `inspect` adds to a container's info: where it lives on this host. */
export interface ContainerDetails extends ContainerInfo {
  cgroup: string;
  upperDir: string;
  uid: number;
  gid: number;
  usernsBase?: number;
}


export class Runtime {
  private readonly layout: Layout;
  private readonly helper: HelperServer;
  /** Made here (not given): closed by teardown(). */
  private readonly ownHelper: boolean;
  private readonly cgroups: CgroupDriver;
  private readonly net: BridgeNetwork;
  private readonly volumes: VolumeStore;
  private readonly store: ContainerStore;
  private readonly tasks: TaskService;
  private readonly logs = new LogStore();
  private readonly files: ContainerFiles;
  /** Images, read-only here: list, resolve, tag, rebase, rmi, prune, import, load, save (image-service.ts). */
  readonly images: ImageService;

  constructor(readonly opts: RuntimeOptions) {
    this.layout = new Layout(opts.dataDir);
    this.ownHelper = !opts.helper;
    this.helper = opts.helper ?? new HelperServer();
    this.cgroups = opts.cgroupDriver ?? detectCgroupDriver();
    this.net = new BridgeNetwork(this.layout, { bridge: opts.bridge, subnet: opts.subnet }, this.helper);
    this.volumes = new VolumeStore(this.layout, this.helper);
    this.store = new ContainerStore(this.layout.containers, this.layout.trash);
    const imageStore = new ImageStore(this.layout);
    this.images = new ImageService(imageStore, this.store, this.helper);
    this.files = new ContainerFiles(this.store, this.layout, this.helper);
    this.tasks = new TaskService({ store: this.store, images: imageStore, volumes: this.volumes, net: this.net, cgroups: this.cgroups, helper: this.helper, layout: this.layout, cgroupRoot: opts.cgroupRoot });
  }

  /** Host networking up; running containers re-adopted, what exited unwatched freed (TaskService.recover). */
  async init() {
    await this.net.ensureHost();
    await this.adopt();
  }

  /**
   * What a process that takes over the state does first (the agent at start, a --local CLI):
   * containers that exited while nobody watched (their monitor killed, the host rebooted) are
   * recorded exited and freed; the running ones are left to their monitors.
   */
  async adopt() {
    await this.tasks.recover();
    this.store.discard(); // what a process that exited first left in trash/
  }

  /** Resolves when removed containers' files are deleted (a CLI about to exit waits for it). */
  idle(): Promise<void> {
    return this.store.idle();
  }

  /** The cgroup version in use. */
  get cgroupDriver(): CgroupDriver["kind"] {
    return this.cgroups.kind;
  }

  /** The agent's socket for the operator CLI (agent/cli-socket.ts). */
  get cliSocket(): string {
    return this.layout.cliSocket;
  }

  // ---------- containers ----------

  list(): ContainerInfo[] {
    return this.store
      .all()
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map((r) => this.tasks.info(r));
  }

  get(ref: string): ContainerInfo {
    return this.tasks.info(this.store.find(ref));
  }

  /** The info, with the container's cgroup, writable layer and user (CLI inspect, tests). */
  inspect(ref: string): ContainerDetails {
    const rec = this.store.find(ref);
    return { ...this.tasks.info(rec), cgroup: rec.cgroupPath, upperDir: upperDir(this.store.dir(rec.id)), uid: rec.uid, gid: rec.gid, ...(rec.usernsBase !== undefined ? { usernsBase: rec.usernsBase } : {}) };
  }

  create(spec: ContainerSpec): ContainerInfo {
    return this.tasks.info(this.tasks.create(spec));
  }
  start(ref: string): Promise<ContainerInfo> {
    return this.tasks.start(ref);
  }
  /** SIGTERM to the container's init, SIGKILL after `timeoutSeconds`; its restart policy leaves it down. */
  stop(ref: string, timeoutSeconds = 10): Promise<ContainerInfo> {
    return this.tasks.stop(ref, timeoutSeconds);
  }
  /** Signals the container's init as the user asked (CLI kill): like a user's stop, no restart policy undoes it. */
  kill(ref: string, signal: NodeJS.Signals | number = "SIGKILL"): Promise<ContainerInfo> {
    return this.tasks.kill(ref, signal);
  }
  /** Until the container has exited. */
  wait(ref: string, signal?: AbortSignal): Promise<WaitResult> {
    return this.tasks.wait(ref, signal);
  }
  remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    return this.tasks.remove(ref, opts);
  }
  /** Freezes every process of the container (cgroup freezer); its memory stays. */
  pause(ref: string): Promise<ContainerInfo> {
    return this.tasks.pause(ref);
  }
  unpause(ref: string): Promise<ContainerInfo> {
    return this.tasks.unpause(ref);
  }

  /** Raw NDJSON lines of the container's output (logs.ts); with follow, until it has exited. */
  logLines(ref: string, opts: LogReadOptions = {}): AsyncGenerator<string> {
    const rec = this.store.find(ref);
    return this.logs.lines(this.store.dir(rec.id), () => this.store.state(rec).state === "exited", opts);
  }

  // ---------- a running container's processes ----------

  private runningRecord(ref: string) {
    const rec = this.store.find(ref);
    const pid = this.store.state(rec).state === "running" ? this.store.initPid(rec) : undefined;
    if (!pid) throw new RuntimeError(`container ${rec.name} is not running; start it first`, 409);
    return { rec, pid };
  }

  /** Pids (host) of every process of a running container (top). */
  processes(ref: string): number[] {
    const { rec } = this.runningRecord(ref);
    return this.cgroups.procs(rec.cgroupPath).sort((a, b) => a - b);
  }

  /** CPU time, memory and process count of a running (or paused) container, from its cgroup. */
  stats(ref: string): ContainerStats {
    const rec = this.store.find(ref);
    const cg = rec.cgroupPath;
    // A pod member shares its owner's network namespace, so its owner's veth counts its bytes.
    const netOwner = this.tasks.info(rec).networkOf ?? rec.id;
    const net = readVethBytes(vethName(netOwner));
    return {
      cpuUsageNs: this.cgroups.cpuUsageNs(cg) ?? 0,
      memoryBytes: this.cgroups.memoryUsage(cg) ?? 0,
      memoryLimitBytes: this.cgroups.readLimits(cg).memoryBytes,
      pids: this.cgroups.exists(cg) ? this.cgroups.procs(cg).length : 0,
      oomKills: this.cgroups.oomKills(cg) ?? 0,
      ...net,
    };
  }

  /** The processes of a running container as `ps` shows them (docker top's columns). */
  top(ref: string): ContainerTop {
    const pids = this.processes(ref);
    const titles = ["USER", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];
    const r = spawnSync("ps", ["-o", "user,pid,ppid,c,stime,tty,time,cmd", "--no-headers", "-p", pids.join(",")], { encoding: "utf8" });
    // CMD, the last column, may hold spaces: the first seven fields, then the rest
    const processes = r.stdout
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => {
        const f = l.trim().split(/\s+/);
        return [...f.slice(0, 7), f.slice(7).join(" ")];
      });
    return { titles, processes };
  }

  /** Runs a command in the running container (exec.ts): its namespaces, cgroups, user and env. */
  exec(ref: string, req: ExecRequest): ExecProcess {
    const { rec, pid } = this.runningRecord(ref);
    const target: ExecTarget = { pid, uid: rec.uid, gid: rec.gid, workdir: rec.spec.workdir ?? rec.config.workdir ?? "/", cgroupDirs: this.cgroups.dirs(rec.cgroupPath) };
    return startExec(target, req);
  }

  // ---------- a container's files ----------

  /** Extracts a tar into a created or exited container at `dest` (files.ts). */
  putArchive(ref: string, dest: string, stream: Readable, as?: { uid: number; gid: number }): Promise<void> {
    return this.files.put(this.store.find(ref), dest, stream, as);
  }
  /** `cp SRC CONTAINER:DEST`: a running container too (into its root, as its user). */
  copyIn(ref: string, dest: string, stream: Readable): Promise<void> {
    return this.files.copyIn(this.store.find(ref), dest, stream);
  }
  /** A tar of the path `src` in the container (one top entry) to `out`. */
  getArchive(ref: string, src: string, out: Writable): Promise<void> {
    return this.files.get(this.store.find(ref), src, out);
  }
  diff(ref: string): Promise<DiffEntry[]> {
    return this.files.diff(this.store.find(ref));
  }
  /** The container's root filesystem as a tar. */
  export(ref: string, out: Writable): Promise<void> {
    return this.files.export(this.store.find(ref), out);
  }
  /** A stopped container's writable layer as a new image on top of its image's. */
  commit(ref: string, name: string, config?: Partial<ImageConfig>): Promise<ImageInfo> {
    return this.images.commit(this.store.find(ref), name, config);
  }

  // ---------- volumes ----------

  volumeList(): VolumeInfo[] {
    return this.volumes.list();
  }
  volume(name: string): VolumeInfo {
    return this.volumes.get(name);
  }
  createVolume(name: string, opts: { sizeBytes?: number; labels?: Record<string, string> } = {}): Promise<VolumeInfo> {
    return this.volumes.create(name, opts);
  }
  /** Names of the containers (any state) that mount this volume. */
  volumeUsers(name: string): string[] {
    return this.store
      .all()
      .filter((r) => r.mounts?.some((m) => m.name === name))
      .map((r) => r.name);
  }
  async removeVolume(name: string) {
    await this.volumes.remove(name, this.volumeUsers(name));
  }

  // ---------- teams ----------

  /** Caps the sum of a team's containers in the kernel; kept for later starts. */
  setTeamLimits(team: string, limits: TeamLimits): TeamLimits {
    return this.tasks.setTeamLimits(team, limits);
  }
  teamLimits(team: string): TeamLimits {
    return this.tasks.teamLimits(team);
  }
  /** Removes `<root>/<team>/<app>` and below; refused while a container here is under it. */
  removeAppCgroup(team: string, app: string): { removed: boolean } {
    return this.tasks.removeAppCgroup(team, app);
  }
  /** The team a container belongs to (first part of its cgroupParent). */
  teamOf(ref: string): string {
    return this.store.find(ref).spec.cgroupParent.split("/")[0];
  }

  // ---------- for the supervisor (restart.ts) ----------

  /** Called after every successful start. */
  get onStart(): ((id: string) => void) | undefined {
    return this.tasks.onStart;
  }
  set onStart(fn: ((id: string) => void) | undefined) {
    this.tasks.onStart = fn;
  }
  /** Has the container's monitor recorded its exit, or is the container gone? (one stat) */
  exitedOrGone(id: string): boolean {
    return this.store.exitedOrGone(id);
  }
  watchExit(id: string, onChange: () => void): (() => void) | undefined {
    return this.store.watchExit(id, onChange);
  }
  /** Writes the exit of containers whose monitor died without recording it (the scan's one pid check). */
  reapLost(): void {
    this.tasks.reapLost();
  }
  afterExit(ref: string): Promise<{ dueAt: number; delayMs: number } | undefined> {
    return this.tasks.afterExit(ref);
  }
  restartExited(ref: string): Promise<boolean> {
    return this.tasks.restartExited(ref);
  }
  cleanupExited(ref: string): Promise<void> {
    return this.tasks.cleanupExited(ref);
  }

  // ---------- the host's network, and going away ----------

  /** The address IPAM holds for a container, if any. */
  addressOf(ref: string): string | undefined {
    return this.net.addressOf(/^[0-9a-f]{32}$/.test(ref) ? ref : this.store.find(ref).id);
  }
  /** The bridge's address, the containers' gateway. */
  get gateway(): string {
    return this.net.gateway;
  }
  /**
   * For a data dir that is going away (tests, benchmarks): the bridge and its firewall rules
   * gone, the disk pool emptied, the helper closed. Containers are not touched: remove them first.
   */
  async teardown() {
    await this.net.teardownHost();
    await closeDiskPool(this.helper, diskPoolDir(this.layout.root));
    await this.idle();
    this.net.close();
    if (this.ownHelper) this.helper.close();
  }
}
