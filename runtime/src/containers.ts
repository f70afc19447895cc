/**
 * Container lifecycle. A container is a directory under containers/<id>/; its process is
 * held by a detached `paas-run` monitor, so it outlives this process (and the agent).
 *
 * Use:
 *   const rt = new Runtime({ dataDir, bridge, subnet, cgroupRoot });
 *   await rt.init();                                   // bridge + NAT; re-adopts what runs
 *   const c = rt.create({ image: "stack/node", memoryBytes: 256 << 20, cgroupParent: "t/app", network: "bridge", cmd: [...] });
 *   await rt.putArchive(c.id, "/app", tarStream);      // into the writable layer, before start
 *   await rt.start(c.id);                              // one helper spawn (+ one `ip -batch`)
 *   for await (const line of rt.logs(c.id, { follow: true })) ...
 *   await rt.wait(c.id);                               // { exitCode, oomKilled }
 *   await rt.commit(c.id, "app/hello:v3");             // upper dir -> new layer on top of the image's
 *   await rt.remove(c.id, { force: true });            // netns, veth, address, cgroups, dirs gone
 *
 * State is derived from files: no startedAt -> created; status.json -> exited; else the
 * monitor's pid alive -> running (a monitor that died without status -> exited, code 255).
 */
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import type { ContainerInfo, ContainerSpec, ImageConfig, ImageInfo, TeamLimits, VolumeMount, WaitResult } from "@paas/shared/agent-api";
import { type CgroupDriver, detectCgroupDriver } from "./cgroups.ts";
import { ImageStore, type InUse } from "./images.ts";
import { helperServer } from "./helper.ts";
import { type Attachment, BridgeNetwork, containerResolvConf, netnsName, vethName } from "./network.ts";
import { limitBandwidth } from "./limits/bandwidth.ts";
import { ensureContainerDisk, leafLimits, readTeamLimits, releaseContainerDisk, saveTeamLimits, teamCgroupLimits, upperDir, validateSpecLimits, validateTeamLimits } from "./limits/container.ts";
import { DirWatch, SAFETY_MS } from "./dirwatch.ts";
import { type LogReadOptions, LogStore } from "./logs.ts";
import { Layout, hex } from "./paths.ts";
import { RESTART_FILE, planRestart, readRestartState, validateRestart, writeRestartState } from "./restart.ts";
import { VolumeStore, mountVolumes, normalizeMounts, unmountRootfs } from "./volumes.ts";
import { RuntimeError, exists, helperPath, randomHex, readJson, writeJson } from "./util.ts";
import { USERNS_SIZE, shiftOwners, toContainerId, toHostId, usernsBaseFor, usernsEnabled } from "./userns.ts";

export interface RuntimeOptions {
  dataDir: string;
  bridge: string;
  subnet: string;
  /** Cgroup path prefix below each controller's root, e.g. "paas". */
  cgroupRoot: string;
  cgroupDriver?: CgroupDriver;
}

interface ContainerRecord {
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

interface StatusFile {
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  finishedAt: string;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;


function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class Runtime {
  readonly layout: Layout;
  readonly images: ImageStore;
  readonly net: BridgeNetwork;
  readonly cgroups: CgroupDriver;
  private readonly logs = new LogStore();

  constructor(readonly opts: RuntimeOptions) {
    this.layout = new Layout(opts.dataDir);
    this.images = new ImageStore(this.layout);
    this.net = new BridgeNetwork(this.layout, { bridge: opts.bridge, subnet: opts.subnet });
    this.cgroups = opts.cgroupDriver ?? detectCgroupDriver();
    fs.mkdirSync(this.layout.containers, { recursive: true });
    fs.mkdirSync(this.layout.trash, { recursive: true });
    this.volumes = new VolumeStore(this.layout);
  }

  readonly volumes: VolumeStore;

  /**
   * Host networking up; running containers are re-adopted as they are (their monitors hold
   * them), and those that exited while nobody watched (agent killed) are cleaned: cgroups,
   * netns, veth, address, egress rule, host mounts, overlay work dir. Addresses whose
   * container record is gone are freed too.
   */
  async init() {
    await this.net.ensureHost();
    for (const rec of this.records()) {
      if (rec.startedAt && this.state(rec).state === "exited") await this.cleanupExited(rec.id);
      // killed half-way through a start (before startedAt was written): what it took so far
      else if (!rec.startedAt && (this.net.addressOf(rec.id) || rec.mounts?.length)) await this.exclusive(rec.id, () => this.releaseResources(rec));
    }
    await this.sweepOrphanAddresses();
    this.discard(); // what a process that exited first left in trash/
  }

  /** IPAM entries of containers that no longer exist (removed while an agent died mid-way). */
  private async sweepOrphanAddresses() {
    const ipam = readJson<{ addresses?: Record<string, { id: string }> }>(path.join(this.layout.net, `${this.net.bridge}.json`));
    for (const a of Object.values(ipam?.addresses ?? {})) {
      if (!exists(path.join(this.dir(a.id), "config.json")) && !this.netHeld(a.id)) await this.net.detach(a.id);
    }
  }

  /**
   * Is this container's network namespace kept for running pod members? Only a kept one
   * (/run/netns) can be: checked first, it spares reading every record for most containers.
   */
  private netHeld(id: string): boolean {
    if (!exists(`/run/netns/${netnsName(id)}`)) return false;
    return this.records().some((r) => r.netOwner === id && r.id !== id && r.startedAt !== undefined && this.state(r).state === "running");
  }

  /** After a pod member is gone: the namespace of a container that no longer runs goes with its last member. */
  private async releasePodNet(ownerId: string) {
    if (this.netHeld(ownerId)) return;
    const owner = readJson<ContainerRecord>(path.join(this.dir(ownerId), "config.json"));
    if (owner?.startedAt && this.state(owner).state === "running") return;
    await this.net.detach(ownerId);
  }

  /** The network namespace a pod member joins (its owner's), or undefined for other containers. */
  private podNetns(rec: ContainerRecord): string | undefined {
    if (!rec.netOwner) return undefined;
    const owner = readJson<ContainerRecord>(path.join(this.dir(rec.netOwner), "config.json"));
    if (owner?.startedAt && this.state(owner).state === "running") {
      if (owner.net) return owner.net.netnsPath;
      const pid = this.readPid(owner, "pid");
      if (pid) return `/proc/${pid}/ns/net`;
    }
    // The owner is gone, but its namespace lives on while other members use it.
    const kept = `/run/netns/${netnsName(rec.netOwner)}`;
    if (exists(kept) && this.netHeld(rec.netOwner)) return kept;
    throw new RuntimeError(`container ${rec.name} joins the network of container ${owner?.name ?? rec.netOwner}, which is not running; start that one first`, 409);
  }

  /** The attachment of a container whose namespace was kept for its pod members. */
  private heldAttachment(rec: ContainerRecord): Attachment {
    const ip = this.net.addressOf(rec.id);
    const netnsPath = `/run/netns/${netnsName(rec.id)}`;
    if (!ip || !exists(netnsPath)) throw new RuntimeError(`container ${rec.name}'s network namespace is used by pod members but incomplete; remove them, then start it`, 409);
    return { ip, cidr: `${ip}/${this.net.bits}`, gateway: this.net.gateway, netnsName: netnsName(rec.id), netnsPath, egress: !!rec.spec.egress };
  }

  /** Signals the container's init as the user asked (CLI kill): like a user's stop, no restart policy undoes it. */
  async kill(ref: string, signal: NodeJS.Signals | number = "SIGKILL"): Promise<ContainerInfo> {
    const rec = this.record(ref);
    const pid = this.state(rec).state === "running" ? this.readPid(rec, "pid") : undefined;
    if (!pid) throw new RuntimeError(`container ${rec.name} is not running`, 409);
    // a signal meant to end it counts as a stop by the user (a SIGHUP to reload does not)
    if (["SIGKILL", "SIGTERM", "SIGINT", 9, 15, 2].includes(signal)) writeRestartState(this.dir(rec.id), { ...readRestartState(this.dir(rec.id)), stoppedByUser: true });
    process.kill(pid, signal);
    return this.info(rec);
  }

  /** Names of the containers (any state) that mount this volume. */
  volumeUsers(name: string): string[] {
    return this.records()
      .filter((r) => r.mounts?.some((m) => m.name === name))
      .map((r) => r.name);
  }

  async removeVolume(name: string) {
    await this.volumes.remove(name, this.volumeUsers(name));
  }

  // ---------- one lifecycle step at a time per container ----------

  private locks = new Map<string, Promise<unknown>>();
  /** Called after every successful start (the supervisor tracks the container from then on). */
  onStart?: (id: string) => void;

  /** Start, stop, restart, clean-up and remove of one container never interleave (within this process). */
  protected exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.locks.get(id) ?? Promise.resolve()).then(fn, fn);
    const tail = next.then(
      () => {},
      () => {},
    );
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  /**
   * For the supervisor (restart.ts): frees what an exited container holds and plans its
   * restart per policy (persisted), or undefined when it stays down.
   */
  async afterExit(ref: string): Promise<{ dueAt: number; delayMs: number } | undefined> {
    const id = this.record(ref).id;
    return this.exclusive(id, async () => {
      const rec = this.record(id);
      const { state, status } = this.state(rec);
      if (state !== "exited" || !status || !rec.startedAt) return undefined;
      await this.releaseResources(rec);
      const st = readRestartState(this.dir(id));
      const plan = planRestart(rec.spec, st, status, rec.startedAt);
      if (plan && st.forExit !== status.finishedAt) writeRestartState(this.dir(id), { ...st, delayMs: plan.delayMs, dueAt: plan.dueAt, forExit: status.finishedAt });
      return plan;
    });
  }

  /** The supervisor's restart: only an exited container the user did not stop. False when the start failed. */
  async restartExited(ref: string): Promise<boolean> {
    const id = this.record(ref).id;
    return this.exclusive(id, async () => {
      const rec = this.record(id);
      const st = readRestartState(this.dir(id));
      if (this.state(rec).state !== "exited" || st.stoppedByUser) return true;
      writeRestartState(this.dir(id), { ...st, count: st.count + 1 });
      try {
        await this.releaseResources(rec);
        await this.startLocked(rec);
        return true;
      } catch {
        return false;
      }
    });
  }

  /** Frees what an exited container still holds; no-op while it runs (re-checked under the lock). */
  async cleanupExited(ref: string): Promise<void> {
    const id = this.record(ref).id;
    await this.exclusive(id, async () => {
      const rec = readJson<ContainerRecord>(path.join(this.dir(id), "config.json"));
      if (rec?.startedAt && this.state(rec).state === "exited") await this.releaseResources(rec);
    });
  }

  // ---------- records ----------

  private dir(id: string) {
    return this.layout.container(id);
  }

  private records(): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const id of fs.readdirSync(this.layout.containers)) {
      const r = readJson<ContainerRecord>(path.join(this.dir(id), "config.json"));
      if (r) out.push(r);
    }
    return out;
  }

  private save(rec: ContainerRecord) {
    writeJson(path.join(this.dir(rec.id), "config.json"), rec);
  }

  private record(ref: string): ContainerRecord {
    if (/^[0-9a-f]{32}$/.test(ref)) {
      const r = readJson<ContainerRecord>(path.join(this.dir(ref), "config.json"));
      if (r) return r;
    }
    const all = this.records();
    const r = all.find((c) => c.name === ref) ?? (ref.length >= 6 ? all.find((c) => c.id.startsWith(ref)) : undefined);
    if (!r) throw new RuntimeError(`no container "${ref}" on this host`, 404);
    return r;
  }

  private status(rec: ContainerRecord): StatusFile | undefined {
    return readJson<StatusFile>(path.join(this.dir(rec.id), "status.json"));
  }

  private readPid(rec: ContainerRecord, file: "pid" | "monitor.pid"): number | undefined {
    try {
      const n = Number(fs.readFileSync(path.join(this.dir(rec.id), file), "utf8").trim());
      return n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
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

  /** A start of this container is under way in a process that lives: its monitor is not up yet. */
  private startingNow(rec: ContainerRecord): boolean {
    return rec.startedBy !== undefined && this.readPid(rec, "monitor.pid") === undefined && pidAlive(rec.startedBy);
  }

  private state(rec: ContainerRecord): { state: ContainerInfo["state"]; status?: StatusFile } {
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

  private info(rec: ContainerRecord): ContainerInfo {
    const { state, status } = this.state(rec);
    return {
      id: rec.id,
      name: rec.name,
      image: rec.image,
      imageId: rec.imageId,
      state: state === "running" && this.cgroups.frozen(rec.cgroupPath) ? "paused" : state,
      pid: state === "running" ? this.readPid(rec, "pid") : undefined,
      ip: state === "running" ? rec.net?.ip : undefined,
      exitCode: status?.exitCode,
      oomKilled: status?.oomKilled,
      memoryLimitBytes: rec.spec.memoryBytes,
      labels: rec.spec.labels ?? {},
      createdAt: rec.createdAt,
      startedAt: rec.startedAt,
      finishedAt: status?.finishedAt,
      ...(rec.netOwner ? { networkOf: rec.netOwner } : {}),
      ...(rec.mounts?.length ? { volumes: rec.mounts } : {}),
      ...(rec.spec.restart && rec.spec.restart !== "no" ? { restartCount: readRestartState(this.dir(rec.id)).count } : {}),
    };
  }

  list(): ContainerInfo[] {
    return this.records()
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map((r) => this.info(r));
  }

  get(ref: string): ContainerInfo {
    return this.info(this.record(ref));
  }

  // ---------- create ----------

  private resolveUser(layers: string[], user: string | undefined): { uid: number; gid: number } {
    if (!user) return { uid: 0, gid: 0 };
    const [u, g] = user.split(":");
    const lookup = (file: string, name: string): number | undefined => {
      if (/^\d+$/.test(name)) return Number(name);
      for (const l of [...layers].reverse()) {
        try {
          const line = fs
            .readFileSync(path.join(this.layout.layer(l), "etc", file), "utf8")
            .split("\n")
            .find((x) => x.split(":")[0] === name);
          if (line) return Number(line.split(":")[2]);
        } catch {}
      }
      return undefined;
    };
    const uid = lookup("passwd", u);
    if (uid === undefined) throw new RuntimeError(`user "${u}" of the image is not in its /etc/passwd`, 400);
    const gid = g !== undefined ? lookup("group", g) : uid;
    if (gid === undefined) throw new RuntimeError(`group "${g}" of the image is not in its /etc/group`, 400);
    return { uid, gid };
  }

  create(spec: ContainerSpec): ContainerInfo {
    if (!spec || typeof spec.image !== "string") throw new RuntimeError("spec.image is required", 400);
    validateSpecLimits(spec);
    if (!Number.isInteger(spec.memoryBytes) || spec.memoryBytes < 4 << 20) {
      throw new RuntimeError("spec.memoryBytes is required and must be at least 4 MiB", 400);
    }
    let netOwner: string | undefined;
    if (typeof spec.network === "string" && spec.network.startsWith("container:")) {
      // A pod: members all join the first container's namespace (a member of a member too).
      const owner = this.record(spec.network.slice("container:".length));
      netOwner = owner.netOwner ?? owner.id;
    } else if (spec.network !== "bridge" && spec.network !== "none") {
      throw new RuntimeError('spec.network must be "bridge", "none" or "container:<id>"', 400);
    }
    const mounts = normalizeMounts(spec.volumes);
    if (spec.volumesFrom !== undefined) {
      for (const m of this.record(String(spec.volumesFrom)).mounts ?? []) if (!mounts.some((o) => o.path === m.path)) mounts.push(m);
    }
    // Named volumes that do not exist yet are made (as `docker run -v name:/path` does).
    for (const m of mounts) if (!this.volumes.exists(m.name)) this.volumes.createPlain(m.name);
    if (typeof spec.cgroupParent !== "string" || !/^[a-zA-Z0-9_.-]+(\/[a-zA-Z0-9_.-]+)*$/.test(spec.cgroupParent) || spec.cgroupParent.split("/").some((p) => p === "." || p === "..")) {
      throw new RuntimeError('spec.cgroupParent must be a relative path like "team/app"', 400);
    }
    const restartError = validateRestart(spec);
    if (restartError) throw new RuntimeError(restartError, 400);
    const img: ImageInfo = this.images.resolve(spec.image);
    const id = randomHex(16);
    const name = spec.name ?? `c-${id.slice(0, 12)}`;
    if (!NAME_RE.test(name)) throw new RuntimeError(`bad container name "${name}"`, 400);
    if (this.records().some((r) => r.name === name)) throw new RuntimeError(`a container named "${name}" exists; remove it or pick another name`, 409);
    const { uid, gid } = this.resolveUser(img.layers, img.config.user);
    const usernsBase = spec.userns !== false && usernsEnabled(this.layout) ? usernsBaseFor(this.layout.root, spec.cgroupParent.split("/")[0]) : undefined;
    const dir = this.dir(id);
    for (const d of ["upper", "work", "rootfs"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
    const rec: ContainerRecord = {
      id,
      name,
      image: spec.image,
      imageId: img.id,
      layers: img.layers,
      config: img.config,
      spec,
      hostname: (spec.hostname ?? name).slice(0, 63),
      uid,
      gid,
      createdAt: new Date().toISOString(),
      cgroupPath: `${this.opts.cgroupRoot}/${spec.cgroupParent}/${id}`,
      ...(netOwner ? { netOwner } : {}),
      ...(mounts.length ? { mounts } : {}),
      ...(usernsBase !== undefined ? { usernsBase } : {}),
    };
    this.save(rec);
    return this.info(rec);
  }

  // ---------- archive ----------

  /** Path inside the container -> the same path in its upper dir, parents made like the image's. */
  private upperPath(rec: ContainerRecord, dest: string): string {
    if (!dest.startsWith("/")) throw new RuntimeError(`path must be absolute, got "${dest}"`, 400);
    const parts = path.posix.normalize(dest).split("/").filter(Boolean);
    let cur = path.join(this.dir(rec.id), "upper");
    let rel = "";
    for (const p of parts) {
      rel = `${rel}/${p}`;
      cur = path.join(cur, p);
      const st = fs.lstatSync(cur, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) throw new RuntimeError(`${rel} is a symlink in the container; give the real path`, 400);
      if (st) continue;
      // Copy-up of the directory's metadata from the top-most layer that has it.
      let lowerSt: fs.Stats | undefined;
      for (const l of [...rec.layers].reverse()) {
        lowerSt = fs.lstatSync(path.join(this.layout.layer(l), rel), { throwIfNoEntry: false });
        if (lowerSt) break;
      }
      if (lowerSt && !lowerSt.isDirectory()) throw new RuntimeError(`${rel} is not a directory in the image`, 400);
      fs.mkdirSync(cur, { mode: lowerSt ? lowerSt.mode & 0o7777 : 0o755 });
      const owner = lowerSt ?? rec;
      fs.chownSync(cur, toHostId(rec.usernsBase, owner.uid), toHostId(rec.usernsBase, owner.gid));
    }
    return cur;
  }

  /**
   * Extracts a tar into the container at `dest` (created or exited containers only: the
   * overlay of a running one must not change under it). Files are owned by the
   * container's user so the app can write them.
   */
  async putArchive(ref: string, dest: string, stream: Readable, as?: { uid: number; gid: number }) {
    const rec = this.record(ref);
    if (this.state(rec).state === "running") throw new RuntimeError("cannot put files into a running container; stop it first", 409);
    if (as && rec.usernsBase !== undefined && Math.max(as.uid, as.gid) >= USERNS_SIZE) {
      throw new RuntimeError(`uid/gid must be below ${USERNS_SIZE} in a container with a user namespace, got ${as.uid}:${as.gid}`, 400);
    }
    await ensureContainerDisk(this.dir(rec.id), rec.spec);
    const target = this.upperPath(rec, dest);
    // `as` (COPY --chown) owns every file; else the container's user, or the tar's owners for root.
    const owner = as ? { preserveOwner: false, uid: as.uid, gid: as.gid } : rec.uid === 0 ? { preserveOwner: true } : { preserveOwner: false, uid: rec.uid, gid: rec.gid };
    try {
      await pipeline(stream, tar.x({ cwd: target, unlink: true, ...owner }));
    } catch (err) {
      throw new RuntimeError(`cannot extract the archive into ${dest}: ${(err as Error).message}`, 400);
    }
    if (rec.uid !== 0) {
      // node-tar keeps the dir it extracts into as it was; make the target ours too.
      const st = fs.statSync(target);
      if (st.uid === 0 && dest !== "/") fs.chownSync(target, rec.uid, rec.gid);
    }
    // Container ids -> host ids (files of earlier puts and made by upperPath are host ids already).
    const base = rec.usernsBase;
    if (base !== undefined) shiftOwners(target, (id) => (id < USERNS_SIZE ? base + id : id));
  }

  // ---------- start / stop / wait ----------

  private env(rec: ContainerRecord): string[] {
    const env: Record<string, string> = {
      PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
      HOSTNAME: rec.hostname,
      ...rec.config.env,
      ...rec.spec.env,
    };
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
  }

  async start(ref: string): Promise<ContainerInfo> {
    const id = this.record(ref).id;
    return this.exclusive(id, async () => {
      const info = await this.startLocked(this.record(id));
      // A user's start: restart count and backoff begin anew (a first start has no state to reset).
      if (exists(path.join(this.dir(id), RESTART_FILE))) writeRestartState(this.dir(id), { count: 0, delayMs: 0 });
      return info;
    });
  }

  private async startLocked(rec: ContainerRecord): Promise<ContainerInfo> {
    const st = this.state(rec);
    if (st.state === "running") throw new RuntimeError(`container ${rec.name} is already running`, 409);
    // Its namespace outlived it for pod members still in it: it starts again in there, address kept.
    const heldNet = rec.spec.network === "bridge" && this.netHeld(rec.id) ? this.heldAttachment(rec) : undefined;
    const podNetns = this.podNetns(rec);
    const dir = this.dir(rec.id);
    for (const l of rec.layers) if (!exists(this.layout.layer(l))) throw new RuntimeError(`layer ${l} of image ${rec.image} is missing from the store`);

    const cmd = [...(rec.config.entrypoint ?? []), ...(rec.spec.cmd ?? rec.config.cmd ?? [])];
    if (!cmd.length) throw new RuntimeError("no command: the image has none and the spec gives none", 400);

    const trace = process.env.PAAS_TRACE_START ? (m: string) => console.error(`start ${rec.id.slice(0, 8)} ${m} ${(performance.now() - t0).toFixed(1)}ms`) : undefined;
    const t0 = performance.now();
    const cg = await this.createCgroup(rec);
    let net: Attachment | undefined;
    try {
      trace?.("cgroup");
      // The team (first segment of cgroupParent) decides which containers it may reach.
      if (rec.spec.network === "bridge") net = heldNet ?? await this.net.attach(rec.id, { egress: !!rec.spec.egress, team: rec.spec.cgroupParent.split("/")[0] });
      if (net && rec.spec.netRateKbit) await limitBandwidth({ hostDev: vethName(rec.id), netns: netnsName(rec.id) }, rec.spec.netRateKbit);
      trace?.("net");
      fs.writeFileSync(path.join(dir, "hostname"), `${rec.hostname}\n`);
      fs.writeFileSync(
        path.join(dir, "hosts"),
        `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n${net ? `${net.ip}\t${rec.hostname}\n` : `127.0.1.1\t${rec.hostname}\n`}`,
      );
      fs.writeFileSync(path.join(dir, "resolv.conf"), containerResolvConf());
      const base = rec.usernsBase;
      if (base !== undefined) {
        // root inside owns its root dir and the files bound in, as it would without a user namespace
        const upper = upperDir(dir);
        const st = fs.statSync(upper);
        if (st.uid < USERNS_SIZE) fs.chownSync(upper, base + st.uid, base + st.gid);
        for (const f of ["hostname", "hosts", "resolv.conf"]) fs.chownSync(path.join(dir, f), base, base);
      }
      const lower = [...rec.layers].reverse().map((l) => this.layout.layer(l)).join(":");
      const args = [
        "--dir", dir,
        "--rootfs", path.join(dir, "rootfs"),
        "--lower", lower,
        "--upper", path.join(dir, "upper"),
        "--work", path.join(dir, "work"),
        "--hostname", rec.hostname,
        "--cwd", rec.spec.workdir ?? rec.config.workdir ?? "/",
        "--uid", String(rec.uid),
        "--gid", String(rec.gid),
        "--oom-file", cg.oomFile,
        ...(base !== undefined ? ["--userns", String(base)] : []),
        "--bind", `${path.join(dir, "resolv.conf")}:/etc/resolv.conf`,
        "--bind", `${path.join(dir, "hosts")}:/etc/hosts`,
        "--bind", `${path.join(dir, "hostname")}:/etc/hostname`,
        ...cg.dirs.flatMap((d) => ["--cgroup", d]),
        ...(net ? ["--netns", net.netnsPath, "--ip", net.cidr, "--gw", net.gateway] : []),
        ...this.env(rec).flatMap((e) => ["--env", e]),
        "--",
        ...cmd,
      ];
      if (podNetns) args.splice(args.indexOf("--"), 0, "--netns", podNetns);
      if (heldNet) {
        // eth0 in the kept namespace has its address and route already
        for (const flag of ["--ip", "--gw"]) {
          const i = args.indexOf(flag);
          if (i >= 0 && i < args.indexOf("--")) args.splice(i, 2);
        }
      }
      if (rec.mounts?.length) {
        // Volumes: the overlay root is mounted on the host with the volumes below it, and the
        // helper takes that tree as it is (no --lower: it bind-mounts --rootfs). See volumes.ts.
        const take = (flag: string) => {
          const i = args.indexOf(flag);
          const v = args[i + 1];
          args.splice(i, 2);
          return v;
        };
        const overlay = { lower: take("--lower"), upper: take("--upper"), work: take("--work") };
        const sources = [];
        for (const m of rec.mounts) sources.push({ source: await this.volumes.source(m.name), path: m.path, readOnly: !!m.readOnly });
        await mountVolumes(path.join(dir, "rootfs"), overlay, sources, rec, base);
      }
      // The last run's files go only now: a start that fails before here leaves its state as it was.
      for (const f of ["status.json", "pid", "monitor.pid"]) fs.rmSync(path.join(dir, f), { force: true });
      rec.net = net;
      rec.startedAt = new Date().toISOString();
      // Until the monitor is up, another process (an agent's supervisor beside a CLI) must
      // not take this start for a dead container and free its cgroups (state() reads this).
      rec.startedBy = process.pid;
      this.save(rec);
      try {
        trace?.("prepared");
        await helperServer().run(args);
        trace?.("running");
      } catch (err) {
        throw new RuntimeError(`container ${rec.name} failed to start: ${(err as Error).message}`, (err as RuntimeError).status ?? 500);
      }
    } catch (err) {
      if (rec.startedBy !== undefined) {
        rec.startedBy = undefined; // no start under way any more: state() says exited
        this.save(rec);
      }
      // The monitor (if any) records the exit; free what this start took.
      await this.waitExitFile(rec, 2000);
      await this.releaseResources(rec);
      throw err;
    }
    this.onStart?.(rec.id);
    return this.info(rec);
  }

  private async waitExitFile(rec: ContainerRecord, ms: number) {
    const end = Date.now() + ms;
    const watch = new DirWatch(this.dir(rec.id), (f) => f === "status.json");
    try {
      for (;;) {
        const seen = watch.seq;
        if (this.status(rec) || !this.monitorAlive(rec) || Date.now() >= end) return;
        await watch.changed(seen, Math.min(SAFETY_MS, end - Date.now()));
      }
    } finally {
      watch.close();
    }
  }

  /** Network, cgroups and overlay scratch of a container that no longer runs. Idempotent. */
  private async releaseResources(rec: ContainerRecord) {
    // A pod's namespace stays while members use it; the last member to go takes it along.
    if (!this.netHeld(rec.id)) await this.net.detach(rec.id);
    if (rec.netOwner) await this.releasePodNet(rec.netOwner);
    if (rec.mounts?.length) await unmountRootfs(path.join(this.dir(rec.id), "rootfs"));
    try {
      this.cgroups.remove(rec.cgroupPath);
    } catch (err) {
      console.error(`runtime: ${(err as Error).message}`);
    }
    // overlayfs leaves work/work (and work/index) behind; the next start makes them anew.
    const work = path.join(this.dir(rec.id), "work");
    for (const e of exists(work) ? fs.readdirSync(work) : []) fs.rmSync(path.join(work, e), { recursive: true, force: true });
    if (rec.net) {
      rec.net = undefined;
      this.save(rec);
    }
  }

  /** Until the container has exited: woken by the monitor's status.json (dirwatch.ts), not a poll. */
  async wait(ref: string, signal?: AbortSignal): Promise<WaitResult> {
    const rec = this.record(ref);
    const watch = new DirWatch(this.dir(rec.id), (f) => f === "status.json");
    try {
      for (;;) {
        const seen = watch.seq;
        const { state, status } = this.state(rec);
        if (state === "created") throw new RuntimeError(`container ${rec.name} was never started`, 409);
        if (state === "exited" && status) {
          watch.close();
          await this.cleanupExited(rec.id);
          return { exitCode: status.exitCode, oomKilled: status.oomKilled, ...(status.oomKilled ? { memoryLimitBytes: rec.spec.memoryBytes } : {}) };
        }
        if (signal?.aborted) throw new RuntimeError("wait aborted", 499);
        await watch.changed(seen, SAFETY_MS, signal);
      }
    } finally {
      watch.close();
    }
  }

  /** SIGTERM to the container's init, SIGKILL after `timeoutSeconds`. */
  async stop(ref: string, timeoutSeconds = 10): Promise<ContainerInfo> {
    const id = this.record(ref).id;
    // A user's stop: no restart policy starts it again (until the user starts it).
    writeRestartState(this.dir(id), { ...readRestartState(this.dir(id)), stoppedByUser: true });
    return this.exclusive(id, () => this.stopLocked(this.record(id), timeoutSeconds));
  }

  private async stopLocked(rec: ContainerRecord, timeoutSeconds: number): Promise<ContainerInfo> {
    // A frozen process takes no signal; Docker too thaws a paused container to stop it.
    if (this.cgroups.frozen(rec.cgroupPath)) await this.cgroups.thaw(rec.cgroupPath);
    if (this.state(rec).state === "running") {
      const pid = this.readPid(rec, "pid");
      if (pid) {
        // watched before the signal, so an exit right after it is not missed
        const watch = new DirWatch(this.dir(rec.id), (f) => f === "status.json");
        try {
          process.kill(pid, timeoutSeconds > 0 ? "SIGTERM" : "SIGKILL");
        } catch {}
        const end = Date.now() + timeoutSeconds * 1000;
        try {
          for (;;) {
            const seen = watch.seq;
            if (Date.now() >= end || this.state(rec).state !== "running") break;
            await watch.changed(seen, Math.min(SAFETY_MS, end - Date.now()));
          }
        } finally {
          watch.close();
        }
        if (this.state(rec).state === "running") {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
      }
      await this.waitExitFile(rec, 10_000);
    }
    if (rec.startedAt) await this.releaseResources(rec);
    return this.info(rec);
  }

  // ---------- logs ----------

  /** Raw NDJSON lines of the container's output (logs.ts); with follow, until it has exited. */
  logLines(ref: string, opts: LogReadOptions = {}): AsyncGenerator<string> {
    const rec = this.record(ref);
    return this.logs.lines(this.dir(rec.id), () => this.state(rec).state === "exited", opts);
  }

  // ---------- commit / remove ----------

  async commit(ref: string, name: string, config?: Partial<ImageConfig>): Promise<ImageInfo> {
    const rec = this.record(ref);
    if (typeof name !== "string" || !name) throw new RuntimeError("commit needs a name, e.g. app/hello:v3", 400);
    if (this.state(rec).state === "running") throw new RuntimeError("cannot commit a running container; wait for it or stop it", 409);
    // after a reboot the quota'd layer must be mounted again before it is read
    await ensureContainerDisk(this.dir(rec.id), rec.spec);
    const upper = upperDir(this.dir(rec.id));
    const nsBase = rec.usernsBase;
    const digest = await this.images.addLayerFromDir(upper, false, nsBase !== undefined ? (id) => toContainerId(nsBase, id) : undefined);
    const merged: ImageConfig = {
      ...rec.config,
      ...config,
      env: { ...rec.config.env, ...(config?.env ?? {}) },
      labels: { ...(rec.config.labels ?? {}), ...(config?.labels ?? {}) },
    };
    const layers = rec.layers.includes(digest) ? rec.layers : [...rec.layers, digest];
    const base = this.images.find(rec.imageId)?.history ?? rec.layers.map(() => ({}));
    const step = { created: new Date().toISOString(), created_by: `commit ${rec.name}: ${[...(rec.config.entrypoint ?? []), ...(rec.spec.cmd ?? rec.config.cmd ?? [])].join(" ")}`.slice(0, 500), ...(layers === rec.layers ? { empty_layer: true } : {}) };
    return this.images.createImage(layers, merged, [name], [...base, step]);
  }

  async remove(ref: string, opts: { force?: boolean } = {}) {
    const id = this.record(ref).id;
    await this.exclusive(id, async () => {
      const rec = this.record(id);
      if (this.state(rec).state === "running") {
        if (!opts.force) throw new RuntimeError(`container ${rec.name} is running; stop it first or remove with force=1`, 409);
        await this.stopLocked(rec, 0);
      }
      await this.releaseResources(rec);
      await releaseContainerDisk(this.dir(rec.id));
      this.discard(this.dir(rec.id));
    });
  }

  /** The deletion of removed containers' files under way, if any (see discard). */
  private deleter?: Promise<void>;

  /**
   * A removed container's dir leaves at once (a rename into trash/: gone from every listing,
   * its name free), and its files are deleted after: unlinking them costs ~2 ms a container
   * here, which a caller of remove() need not wait for. Leftovers (a process that exited
   * first) go at the next init() or discard().
   */
  private discard(dir?: string) {
    const trash = this.layout.trash;
    try {
      if (dir) fs.renameSync(dir, path.join(trash, `${path.basename(dir)}.${randomHex(4)}`));
    } catch (err) {
      // removed meanwhile by another process: nothing left to discard
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    this.deleter ??= this.deleteTrash(trash);
  }

  private async deleteTrash(trash: string) {
    await null; // after discard() has set this.deleter
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

  // ---------- limits: cgroup hierarchy, team caps, pause ----------

  /** `<root>/<team>/<app>/<id>`: the team's caps (kept on disk) are set on its node first. */
  private async createCgroup(rec: ContainerRecord) {
    await ensureContainerDisk(this.dir(rec.id), rec.spec);
    const team = rec.spec.cgroupParent.split("/")[0];
    const t = readTeamLimits(this.layout.root)[team];
    if (t) this.cgroups.setLimits(`${this.opts.cgroupRoot}/${team}`, teamCgroupLimits(t));
    return this.cgroups.create(rec.cgroupPath, leafLimits(rec.spec, this.dir(rec.id)));
  }

  /** Caps the sum of a team's containers in the kernel; kept for later starts. */
  setTeamLimits(team: string, limits: TeamLimits): TeamLimits {
    const cg = validateTeamLimits(team, limits);
    const clean: TeamLimits = { memoryBytes: limits.memoryBytes, cpuMillis: limits.cpuMillis, pids: limits.pids };
    this.cgroups.setLimits(`${this.opts.cgroupRoot}/${team}`, cg);
    saveTeamLimits(this.layout.root, team, clean);
    return clean;
  }

  /** The team a container belongs to (first part of its cgroupParent). */
  teamOf(ref: string): string {
    return this.record(ref).spec.cgroupParent.split("/")[0];
  }

  teamLimits(team: string): TeamLimits {
    validateTeamLimits(team, {});
    return readTeamLimits(this.layout.root)[team] ?? {};
  }

  /** Freezes every process of the container (cgroup freezer); its memory stays. */
  async pause(ref: string): Promise<ContainerInfo> {
    const rec = this.record(ref);
    if (this.state(rec).state !== "running") throw new RuntimeError(`container ${rec.name} is not running; only a running container can be paused`, 409);
    await this.cgroups.freeze(rec.cgroupPath);
    return this.info(rec);
  }

  async unpause(ref: string): Promise<ContainerInfo> {
    const rec = this.record(ref);
    if (this.state(rec).state !== "running" || !this.cgroups.frozen(rec.cgroupPath)) throw new RuntimeError(`container ${rec.name} is not paused`, 409);
    await this.cgroups.thaw(rec.cgroupPath);
    return this.info(rec);
  }

  /** Layers and images that containers on this host still use (image GC keeps them). */
  inUse(): InUse {
    const layers = new Set<string>();
    const images = new Set<string>();
    const users = new Map<string, string[]>();
    for (const r of this.records()) {
      images.add(r.imageId);
      users.set(r.imageId, [...(users.get(r.imageId) ?? []), r.name]);
      for (const l of r.layers) layers.add(hex(l));
    }
    return { layers, images, users };
  }

  /** `rmi`: refused while a container uses the image, unless forced (see ImageStore.remove). */
  removeImage(ref: string, force = false): string[] {
    return this.images.remove(ref, this.inUse(), force);
  }

  /** Where a container's files are, for diff, export and cp (images.ts, cli.ts). */
  fsInfo(ref: string): { id: string; name: string; upper: string; lowers: string[]; state: ContainerInfo["state"]; pid?: number; uid: number; gid: number; cgroupPath: string; usernsBase?: number; workdir: string } {
    const rec = this.record(ref);
    const state = this.state(rec).state;
    return {
      id: rec.id,
      name: rec.name,
      upper: upperDir(this.dir(rec.id)),
      lowers: rec.layers.map((l) => this.layout.layer(l)),
      state,
      pid: state === "running" ? this.readPid(rec, "pid") : undefined,
      uid: rec.uid,
      gid: rec.gid,
      cgroupPath: rec.cgroupPath,
      usernsBase: rec.usernsBase,
      workdir: rec.spec.workdir ?? rec.config.workdir ?? "/",
    };
  }
}
