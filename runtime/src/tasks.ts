/**
 * The task service: containers' processes and what they hold while they run (containerd's
 * tasks; each process is held by its own `paas-run` monitor, the shim, so it outlives us).
 *
 * Use:
 *   const tasks = new TaskService({ store, images, volumes, net, cgroups, helper, layout, cgroupRoot });
 *   await tasks.recover();                     // after a restart: frees what exited while nobody watched
 *   const rec = tasks.create(spec);            // validated; a record in the store, no process yet
 *   await tasks.start(rec.id);                 // cgroup, network, mounts, then one helper request
 *   await tasks.wait(rec.id);                  // { exitCode, oomKilled }, woken by the monitor's status.json
 *   await tasks.stop(rec.id, 10);              // SIGTERM, SIGKILL after 10 s; the restart policy leaves it down
 *   await tasks.remove(rec.id, { force: true });
 *
 * Restart policies (restart.ts): afterExit() frees an exited container's resources and plans
 * its restart, restartExited() makes it; the supervisor calls both. Start, stop, restart,
 * clean-up and remove of one container never interleave within this process (exclusive()),
 * the one writer of the runtime's state (the agent; a --local CLI only while none runs).
 *
 * Resources of a run: a cgroup leaf below `<root>/<team>/<app>` (the team's caps, kept on
 * disk, set on its node first), an address and a netns (or its pod owner's), a quota'd
 * writable layer, volume mounts, host binds' mount points (binds.ts). releaseResources() frees
 * them all and is idempotent.
 */
import fs from "node:fs";
import path from "node:path";
import { type ContainerInfo, type ContainerSpec, ContainerSpecSchema, type ImageInfo, PathParams, type TeamLimits, TeamLimitsSchema, type WaitResult } from "@paas/shared/agent-api";
import { makeBindPoints, normalizeBinds, removeBindPoints } from "./binds.ts";
import type { CgroupDriver } from "./cgroups.ts";
import { DirWatch, SAFETY_MS } from "./dirwatch.ts";
import type { HelperServer, RunRequest } from "./helper.ts";
import type { ImageStore } from "./images.ts";
import { limitBandwidth } from "./limits/bandwidth.ts";
import { ensureContainerDisk, leafLimits, readTeamLimits, releaseContainerDisk, saveTeamLimits, teamCgroupLimits, upperDir } from "./limits/container.ts";
import { type Attachment, type BridgeNetwork, containerResolvConf, netnsName, vethName } from "./network.ts";
import type { Layout } from "./paths.ts";
import { RESTART_FILE, planRestart, readRestartState, writeRestartState, type RestartState } from "./restart.ts";
import { type ContainerRecord, ContainerStore, STATUS_FILE } from "./store.ts";
import { USERNS_SIZE, usernsBaseFor, usernsEnabled } from "./userns.ts";
import { RuntimeError, exists, parseInput, randomHex } from "./util.ts";
import { type VolumeStore, mountVolumes, normalizeMounts, unmountRootfs } from "./volumes.ts";

export interface TaskDeps {
  store: ContainerStore;
  images: ImageStore;
  volumes: VolumeStore;
  net: BridgeNetwork;
  cgroups: CgroupDriver;
  helper: HelperServer;
  layout: Layout;
  /** Cgroup path prefix below each controller's root, e.g. "paas". */
  cgroupRoot: string;
}

export class TaskService {
  private readonly store: ContainerStore;
  private readonly images: ImageStore;
  private readonly volumes: VolumeStore;
  private readonly net: BridgeNetwork;
  private readonly cgroups: CgroupDriver;
  private readonly helper: HelperServer;
  private readonly layout: Layout;
  private readonly cgroupRoot: string;
  /** Called after every successful start (the supervisor tracks the container from then on). */
  onStart?: (id: string) => void;

  constructor(d: TaskDeps) {
    ({ store: this.store, images: this.images, volumes: this.volumes, net: this.net, cgroups: this.cgroups, helper: this.helper, layout: this.layout, cgroupRoot: this.cgroupRoot } = d);
  }

  /**
   * Running containers are re-adopted as they are (their monitors hold them); those that
   * exited while nobody watched (agent killed) are cleaned: cgroups, netns, veth, address,
   * egress rule, host mounts, overlay work dir. Addresses whose container is gone are freed.
   */
  async recover() {
    for (const rec of this.store.all()) {
      // nothing starts in this process yet: a monitor not up is one that died unrecorded
      this.store.reapLost(rec);
      if (rec.startedAt && this.store.state(rec).state === "exited") await this.cleanupExited(rec.id);
      // killed half-way through a start (before startedAt was written): what it took so far
      else if (!rec.startedAt && (this.net.addressOf(rec.id) || rec.mounts?.length)) await this.exclusive(rec.id, () => this.releaseResources(rec));
    }
    await this.net.sweep((id) => this.store.load(id) !== undefined || this.netHeld(id));
  }

  // ---------- one lifecycle step at a time per container ----------

  private locks = new Map<string, Promise<unknown>>();

  /** Start, stop, restart, clean-up and remove of one container never interleave (within this process). */
  private exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
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

  // ---------- what callers see ----------

  info(rec: ContainerRecord): ContainerInfo {
    const { state, status } = this.store.state(rec);
    return {
      id: rec.id,
      name: rec.name,
      image: rec.image,
      imageId: rec.imageId,
      state: state === "running" && this.cgroups.frozen(rec.cgroupPath) ? "paused" : state,
      pid: state === "running" ? this.store.initPid(rec) : undefined,
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
      ...(rec.spec.restart && rec.spec.restart !== "no" ? restartInfo(readRestartState(this.store.dir(rec.id))) : {}),
    };
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

  create(input: ContainerSpec): ContainerRecord {
    const spec = parseInput(ContainerSpecSchema, input, "spec");
    let netOwner: string | undefined;
    if (spec.network.startsWith("container:")) {
      // A pod: members all join the first container's namespace (a member of a member too).
      const owner = this.store.find(spec.network.slice("container:".length));
      netOwner = owner.netOwner ?? owner.id;
    }
    const mounts = normalizeMounts(spec.volumes);
    if (spec.volumesFrom !== undefined) {
      for (const m of this.store.find(String(spec.volumesFrom)).mounts ?? []) if (!mounts.some((o) => o.path === m.path)) mounts.push(m);
    }
    const binds = normalizeBinds(spec.binds, mounts);
    const img: ImageInfo = this.images.resolve(spec.image);
    const id = randomHex(16);
    const name = spec.name ?? `c-${id.slice(0, 12)}`;
    if (this.store.all().some((r) => r.name === name)) throw new RuntimeError(`a container named "${name}" exists; remove it or pick another name`, 409);
    const { uid, gid } = this.resolveUser(img.layers, img.config.user);
    // Named volumes that do not exist yet are made (as `docker run -v name:/path` does), once the spec is known good.
    for (const m of mounts) if (!this.volumes.exists(m.name)) this.volumes.createPlain(m.name);
    const usernsBase = spec.userns !== false && usernsEnabled(this.layout) ? usernsBaseFor(this.layout.root, spec.cgroupParent.split("/")[0]) : undefined;
    const rec: ContainerRecord = {
      id,
      name,
      image: spec.image,
      imageId: img.id,
      layers: img.layers,
      config: img.config,
      // binds kept as checked: sources with their symlinks resolved
      spec: binds.length ? { ...spec, binds } : spec,
      hostname: (spec.hostname ?? name).slice(0, 63),
      uid,
      gid,
      createdAt: new Date().toISOString(),
      cgroupPath: `${this.cgroupRoot}/${spec.cgroupParent}/${id}`,
      ...(netOwner ? { netOwner } : {}),
      ...(mounts.length ? { mounts } : {}),
      ...(usernsBase !== undefined ? { usernsBase } : {}),
    };
    this.store.add(rec);
    return rec;
  }

  // ---------- pods: a network namespace shared by members ----------

  /**
   * Is this container's network namespace kept for running pod members? Only a kept one
   * (/run/netns) can be: checked first, it spares reading every record for most containers.
   */
  private netHeld(id: string): boolean {
    if (!exists(`/run/netns/${netnsName(id)}`)) return false;
    return this.store.all().some((r) => r.netOwner === id && r.id !== id && r.startedAt !== undefined && this.store.state(r).state === "running");
  }

  /** After a pod member is gone: the namespace of a container that no longer runs goes with its last member. */
  private async releasePodNet(ownerId: string) {
    if (this.netHeld(ownerId)) return;
    const owner = this.store.load(ownerId);
    if (owner?.startedAt && this.store.state(owner).state === "running") return;
    await this.net.detach(ownerId);
  }

  /** The network namespace a pod member joins (its owner's), or undefined for other containers. */
  private podNetns(rec: ContainerRecord): string | undefined {
    if (!rec.netOwner) return undefined;
    const owner = this.store.load(rec.netOwner);
    if (owner?.startedAt && this.store.state(owner).state === "running") {
      if (owner.net) return owner.net.netnsPath;
      const pid = this.store.initPid(owner);
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

  // ---------- start ----------

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
    const id = this.store.find(ref).id;
    return this.exclusive(id, async () => {
      const info = await this.startLocked(this.store.find(id));
      // A user's start: restart count and backoff begin anew (a first start has no state to reset).
      if (exists(path.join(this.store.dir(id), RESTART_FILE))) writeRestartState(this.store.dir(id), { count: 0, delayMs: 0 });
      return info;
    });
  }

  private async startLocked(rec: ContainerRecord): Promise<ContainerInfo> {
    const st = this.store.state(rec);
    if (st.state === "running") throw new RuntimeError(`container ${rec.name} is already running`, 409);
    // Its namespace outlived it for pod members still in it: it starts again in there, address kept.
    const heldNet = rec.spec.network === "bridge" && this.netHeld(rec.id) ? this.heldAttachment(rec) : undefined;
    const podNetns = this.podNetns(rec);
    const dir = this.store.dir(rec.id);
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
      if (rec.spec.network === "bridge") net = heldNet ?? (await this.net.attach(rec.id, { egress: !!rec.spec.egress, team: rec.spec.cgroupParent.split("/")[0], egressAllow: rec.spec.egressAllow }));
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
      const layerDirs = [...rec.layers].reverse().map((l) => this.layout.layer(l));
      if (rec.spec.binds?.length) makeBindPoints(dir, layerDirs, upperDir(dir), rec.spec.binds, base);
      let overlay: RunRequest["overlay"] = {
        lower: layerDirs.join(":"),
        upper: path.join(dir, "upper"),
        work: path.join(dir, "work"),
      };
      if (rec.mounts?.length) {
        // Volumes: the overlay root is mounted on the host with the volumes below it, and the
        // helper takes that tree as it is (no overlay: it bind-mounts rootfs). See volumes.ts.
        const sources = [];
        for (const m of rec.mounts) sources.push({ source: await this.volumes.source(m.name), path: m.path, readOnly: !!m.readOnly });
        await mountVolumes(this.helper, path.join(dir, "rootfs"), overlay, sources, rec, base);
        overlay = undefined;
      }
      const req: RunRequest = {
        dir,
        rootfs: path.join(dir, "rootfs"),
        overlay,
        hostname: rec.hostname,
        cwd: rec.spec.workdir ?? rec.config.workdir ?? "/",
        uid: rec.uid,
        gid: rec.gid,
        oomFile: cg.oomFile,
        usernsBase: base,
        binds: [...["resolv.conf", "hosts", "hostname"].map((f) => ({ source: path.join(dir, f), target: `/etc/${f}` })), ...(rec.spec.binds ?? [])],
        cgroups: cg.dirs,
        // a pod member joins its owner's namespace; eth0 in a kept namespace has its address already
        net: podNetns ? { netnsPath: podNetns } : net ? { netnsPath: net.netnsPath, address: heldNet ? undefined : { cidr: net.cidr, gateway: net.gateway } } : undefined,
        env: this.env(rec),
        cmd,
      };
      // The last run's files go only now: a start that fails before here leaves its state as it was.
      this.store.clearRun(rec);
      rec.net = net;
      rec.startedAt = new Date().toISOString();
      this.store.save(rec);
      try {
        trace?.("prepared");
        await this.helper.run(req);
        trace?.("running");
      } catch (err) {
        throw new RuntimeError(`container ${rec.name} failed to start: ${(err as Error).message}`, (err as RuntimeError).status ?? 500);
      }
    } catch (err) {
      // The monitor (if any) records the exit, else it is written for it; free what this start took.
      await this.waitExitFile(rec, 2000);
      if (rec.startedAt) this.store.reapLost(rec);
      await this.releaseResources(rec);
      throw err;
    }
    this.onStart?.(rec.id);
    return this.info(rec);
  }

  /** Until the monitor has recorded the exit (or is gone), at most `ms`. */
  private async waitExitFile(rec: ContainerRecord, ms: number) {
    const end = Date.now() + ms;
    const watch = new DirWatch(this.store.dir(rec.id), (f) => f === STATUS_FILE);
    try {
      for (;;) {
        const seen = watch.seq;
        if (this.store.monitorGone(rec) || Date.now() >= end) return;
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
    if (rec.mounts?.length) await unmountRootfs(this.helper, path.join(this.store.dir(rec.id), "rootfs"));
    if (rec.spec.binds?.length) removeBindPoints(this.store.dir(rec.id), upperDir(this.store.dir(rec.id)));
    try {
      this.cgroups.remove(rec.cgroupPath);
    } catch (err) {
      console.error(`runtime: ${(err as Error).message}`);
    }
    // overlayfs leaves work/work (and work/index) behind; the next start makes them anew.
    const work = path.join(this.store.dir(rec.id), "work");
    for (const e of exists(work) ? fs.readdirSync(work) : []) fs.rmSync(path.join(work, e), { recursive: true, force: true });
    if (rec.net) {
      rec.net = undefined;
      this.store.save(rec);
    }
  }

  // ---------- wait, stop, kill ----------

  /** Until the container has exited: woken by the monitor's status.json (dirwatch.ts), not a poll. */
  async wait(ref: string, signal?: AbortSignal): Promise<WaitResult> {
    const rec = this.store.find(ref);
    const watch = new DirWatch(this.store.dir(rec.id), (f) => f === STATUS_FILE);
    try {
      for (;;) {
        const seen = watch.seq;
        const { state, status } = this.store.state(rec);
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
    const id = this.store.find(ref).id;
    // A user's stop: no restart policy starts it again (until the user starts it).
    writeRestartState(this.store.dir(id), { ...readRestartState(this.store.dir(id)), stoppedByUser: true });
    return this.exclusive(id, () => this.stopLocked(this.store.find(id), timeoutSeconds));
  }

  private async stopLocked(rec: ContainerRecord, timeoutSeconds: number): Promise<ContainerInfo> {
    // A frozen process takes no signal; Docker too thaws a paused container to stop it.
    if (this.cgroups.frozen(rec.cgroupPath)) await this.cgroups.thaw(rec.cgroupPath);
    if (this.store.state(rec).state === "running") {
      const pid = this.store.initPid(rec);
      if (pid) {
        // watched before the signal, so an exit right after it is not missed
        const watch = new DirWatch(this.store.dir(rec.id), (f) => f === STATUS_FILE);
        try {
          process.kill(pid, timeoutSeconds > 0 ? "SIGTERM" : "SIGKILL");
        } catch {}
        const end = Date.now() + timeoutSeconds * 1000;
        try {
          for (;;) {
            const seen = watch.seq;
            if (Date.now() >= end || this.store.state(rec).state !== "running") break;
            await watch.changed(seen, Math.min(SAFETY_MS, end - Date.now()));
          }
        } finally {
          watch.close();
        }
        if (this.store.state(rec).state === "running") {
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

  /** Signals the container's init as the user asked (CLI kill): like a user's stop, no restart policy undoes it. */
  async kill(ref: string, signal: NodeJS.Signals | number = "SIGKILL"): Promise<ContainerInfo> {
    const rec = this.store.find(ref);
    const pid = this.store.state(rec).state === "running" ? this.store.initPid(rec) : undefined;
    if (!pid) throw new RuntimeError(`container ${rec.name} is not running`, 409);
    // a signal meant to end it counts as a stop by the user (a SIGHUP to reload does not)
    if (["SIGKILL", "SIGTERM", "SIGINT", 9, 15, 2].includes(signal)) writeRestartState(this.store.dir(rec.id), { ...readRestartState(this.store.dir(rec.id)), stoppedByUser: true });
    process.kill(pid, signal);
    return this.info(rec);
  }

  async remove(ref: string, opts: { force?: boolean } = {}) {
    const id = this.store.find(ref).id;
    await this.exclusive(id, async () => {
      const rec = this.store.find(id);
      if (this.store.state(rec).state === "running") {
        if (!opts.force) throw new RuntimeError(`container ${rec.name} is running; stop it first or remove with force=1`, 409);
        await this.stopLocked(rec, 0);
      }
      await this.releaseResources(rec);
      await releaseContainerDisk(this.helper, this.store.dir(rec.id));
      this.store.discard(rec.id);
    });
  }

  // ---------- for the supervisor (restart.ts) ----------

  /** Containers whose monitor died without recording the exit, as exited (the supervisor's scan). */
  reapLost() {
    for (const rec of this.store.all()) {
      if (this.locks.has(rec.id)) continue;
      this.store.reapLost(rec, { starting: true });
      // A boost whose timer went with an earlier agent process ends here.
      if (rec.spec.cpuBoostSeconds) this.capBoosted(rec.id);
    }
  }

  /** Frees what an exited container holds and plans its restart per policy (persisted), or undefined when it stays down. */
  async afterExit(ref: string): Promise<{ dueAt: number; delayMs: number } | undefined> {
    const id = this.store.find(ref).id;
    return this.exclusive(id, async () => {
      const rec = this.store.find(id);
      const { state, status } = this.store.state(rec);
      if (state !== "exited" || !status || !rec.startedAt) return undefined;
      await this.releaseResources(rec);
      const dir = this.store.dir(id);
      const st = readRestartState(dir);
      const plan = planRestart(rec.spec, st, status, rec.startedAt);
      if (plan && st.forExit !== status.finishedAt) {
        writeRestartState(dir, { ...st, delayMs: plan.delayMs, dueAt: plan.dueAt, forExit: status.finishedAt, exitCode: status.exitCode, oomKilled: status.oomKilled });
      }
      return plan;
    });
  }

  /** The supervisor's restart: only an exited container the user did not stop. False when the start failed. */
  async restartExited(ref: string): Promise<boolean> {
    const id = this.store.find(ref).id;
    return this.exclusive(id, async () => {
      const rec = this.store.find(id);
      const dir = this.store.dir(id);
      const st = readRestartState(dir);
      if (this.store.state(rec).state !== "exited" || st.stoppedByUser) return true;
      writeRestartState(dir, { ...st, count: st.count + 1 });
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
    const id = this.store.find(ref).id;
    await this.exclusive(id, async () => {
      const rec = this.store.load(id);
      if (rec?.startedAt && this.store.state(rec).state === "exited") await this.releaseResources(rec);
    });
  }

  // ---------- limits: cgroup hierarchy, team caps, pause ----------

  /** `<root>/<team>/<app>/<id>`: the team's caps (kept on disk) are set on its node first. */
  private async createCgroup(rec: ContainerRecord) {
    await ensureContainerDisk(this.helper, this.store.dir(rec.id), rec.spec);
    const team = rec.spec.cgroupParent.split("/")[0];
    const t = readTeamLimits(this.layout.root)[team];
    if (t) this.cgroups.setLimits(`${this.cgroupRoot}/${team}`, teamCgroupLimits(t));
    const limits = leafLimits(rec.spec, this.store.dir(rec.id));
    // A startup boost: the quota comes once the boost is over (capBoosted; the scan if this process went).
    if (rec.spec.cpuBoostSeconds && limits.cpuMillis) {
      delete limits.cpuMillis;
      // (startedAt is written just after this: the timer gives it a margin)
      setTimeout(() => this.capBoosted(rec.id), rec.spec.cpuBoostSeconds * 1000 + 250).unref();
    }
    return this.cgroups.create(rec.cgroupPath, limits);
  }

  /** Applies the CPU quota of a running container whose startup boost is over (idempotent). */
  private capBoosted(id: string) {
    const rec = this.store.load(id);
    const boost = rec?.spec.cpuBoostSeconds;
    if (!rec || !boost || !rec.spec.cpuMillis || !rec.startedAt || this.store.state(rec).state !== "running") return;
    if (Date.now() - Date.parse(rec.startedAt) < boost * 1000) return;
    try {
      if (this.cgroups.readLimits(rec.cgroupPath).cpuMillis !== rec.spec.cpuMillis) this.cgroups.setLimits(rec.cgroupPath, { cpuMillis: rec.spec.cpuMillis });
    } catch {} // gone meanwhile
  }

  /** Caps the sum of a team's containers in the kernel; kept for later starts. */
  setTeamLimits(team: string, input: TeamLimits): TeamLimits {
    parseInput(PathParams.team, team, "team");
    const limits = parseInput(TeamLimitsSchema, input, "team");
    this.cgroups.setLimits(`${this.cgroupRoot}/${team}`, teamCgroupLimits(limits));
    saveTeamLimits(this.layout.root, team, limits);
    return limits;
  }

  teamLimits(team: string): TeamLimits {
    parseInput(PathParams.team, team, "team");
    return readTeamLimits(this.layout.root)[team] ?? {};
  }

  /**
   * Removes an app's cgroup node (`<root>/<team>/<app>` and everything below it): what a
   * destroyed app leaves when a container's own removal could not prune it (an agent that died
   * mid-removal). Refused (409) while a container of this host still names it as its parent.
   */
  removeAppCgroup(team: string, app: string): { removed: boolean } {
    for (const [what, v] of [["team", team], ["app", app]]) {
      if (!/^[a-zA-Z0-9_.-]+$/.test(v) || v === "." || v === "..") throw new RuntimeError(`bad ${what} name "${v}"`, 400);
    }
    const parent = `${team}/${app}`;
    const users = this.store.all().filter((r) => r.spec.cgroupParent === parent || r.spec.cgroupParent.startsWith(`${parent}/`));
    if (users.length) {
      throw new RuntimeError(`containers of ${parent} are still on this host (${users.map((r) => r.name).join(", ")}): remove them first`, 409);
    }
    const rel = `${this.cgroupRoot}/${parent}`;
    const removed = this.cgroups.exists(rel);
    this.cgroups.removeTree(rel);
    return { removed };
  }

  /** Freezes every process of the container (cgroup freezer); its memory stays. */
  async pause(ref: string): Promise<ContainerInfo> {
    const rec = this.store.find(ref);
    if (this.store.state(rec).state !== "running") throw new RuntimeError(`container ${rec.name} is not running; only a running container can be paused`, 409);
    await this.cgroups.freeze(rec.cgroupPath);
    return this.info(rec);
  }

  async unpause(ref: string): Promise<ContainerInfo> {
    const rec = this.store.find(ref);
    if (this.store.state(rec).state !== "running" || !this.cgroups.frozen(rec.cgroupPath)) throw new RuntimeError(`container ${rec.name} is not paused`, 409);
    await this.cgroups.thaw(rec.cgroupPath);
    return this.info(rec);
  }
}

/** What callers see of a restart policy's bookkeeping (ContainerInfo). */
function restartInfo(st: RestartState): Pick<ContainerInfo, "restartCount" | "stoppedByUser" | "lastExit"> {
  return {
    restartCount: st.count,
    ...(st.stoppedByUser ? { stoppedByUser: true } : {}),
    ...(st.forExit && st.exitCode !== undefined ? { lastExit: { exitCode: st.exitCode, oomKilled: st.oomKilled ?? false, finishedAt: st.forExit } } : {}),
  };
}
