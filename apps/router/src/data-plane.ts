/**
 * Keeps HAProxy serving what the routing table says. The one owner of what HAProxy was given:
 * the pool of backends, which app each serves and which replica sits in which server slot.
 *
 * Changes go through the runtime API, with nothing reloaded or dropped: a new app takes a spare
 * backend (its replicas are added as servers, then its hosts enter the host map); a deploy's new
 * replicas are added and made ready before the old ones go to maintenance (no new requests;
 * those they have finish), and a server in maintenance is deleted once HAProxy lets it (no
 * connection left: a sweep retries each second); an app that goes leaves the map, then its
 * replicas go the same way. Only when the pool has no spare backend, or a replica is named by
 * host name (HAProxy resolves names at start), are the files written again and HAProxy reloaded
 * (a new worker takes the listening socket; the old one finishes its requests).
 * Custom domains' certificates (tls.ts: fetched from the control plane's store, copied into the
 * router's own directory) are loaded before their hosts enter the map and unloaded after they
 * leave it, through the runtime API too; should HAProxy refuse one of those steps, a reload
 * from the files (crt-list written first) sets its state straight.
 */
import fs from "node:fs";
import { backendName, files, panicName, renderConfig, renderMap, route, SERVER_OPTIONS, slotName, type Backend, type DataPlaneSettings } from "./haproxy-config.ts";
import type { HAProxy } from "./haproxy.ts";
import { certSteps, certsToLoad, dropCertFiles, renderCrtList, type FetchCert, type LoadedCert, type Step } from "./tls.ts";
import { badResponse, bodyTooLarge, noHealthyReplica, noSuchApp, perApp, timedOut } from "./pages.ts";
import type { AppRoutes } from "./table.ts";

/** Backends in the pool: room for apps to come without a reload (a spare one costs nothing: it has no servers). */
export const poolFor = (apps: number) => Math.max(16, 2 * apps);

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * `deletes`: servers put in maintenance by the commands, to be deleted once they carry nothing
 * (their slots are not filled again until then).
 */
export type Plan = { reload: true; next: Backend[] } | { reload: false; next: Backend[]; commands: string[]; deletes: string[] };

/** A fresh pool for `wanted`: each app in a backend of its own, its replicas in the first slots. */
function freshPool(wanted: AppRoutes[]): Backend[] {
  return Array.from({ length: poolFor(wanted.length) }, (_, i) => {
    const a = wanted[i];
    return { name: backendName(i), app: a?.app ?? null, hosts: a?.hosts ?? [], slots: [...(a?.backends ?? [])] };
  });
}

const server = (b: Backend, i: number) => `${b.name}/${slotName(i)}`;
const panic = (b: Backend, i: number) => `${b.name}/${panicName(i)}`;

/**
 * What it takes to go from the pool `current` to `wanted`: runtime commands where they suffice.
 * `deleting`: servers (backend/slot) still waiting for their deletion.
 */
export function plan(current: Backend[], wanted: AppRoutes[], mapFile: string, deleting: ReadonlySet<string> = new Set()): Plan {
  const reload = (): Plan => ({ reload: true, next: freshPool(wanted) });
  if (current.length === 0) return reload();
  const next = current.map((b) => ({ ...b, hosts: [...b.hosts], slots: [...b.slots] }));
  const adds: string[] = [];
  const mapAdds: string[] = [];
  const mapDels: string[] = [];
  const removes: string[] = [];
  const deletes: string[] = [];
  const out = (b: Backend, i: number) => {
    removes.push(`set server ${server(b, i)} state maint`, `set server ${panic(b, i)} state maint`);
    deletes.push(server(b, i), panic(b, i));
  };
  const wantedApps = new Set(wanted.map((a) => a.app));
  const mapped = new Map(current.flatMap((b) => (b.app ? b.hosts.map((h) => [h, route(b)] as const) : [])));

  // Apps that go: out of the map, then their replicas out; the backend is spare from now on.
  for (const b of next) {
    if (!b.app || wantedApps.has(b.app)) continue;
    b.slots.forEach((addr, i) => addr && out(b, i));
    b.app = null;
    b.hosts = [];
    b.slots = b.slots.map(() => null);
  }
  for (const a of wanted) {
    let b = next.find((x) => x.app === a.app);
    if (!b) {
      // A spare backend that was spare before this change too (one freed now still carries
      // requests), with no server of an earlier app left in it.
      b = next.find((x, i) => x.app === null && current[i].app === null && current[i].slots.every((s, j) => s === null && !deleting.has(server(x, j)) && !deleting.has(panic(x, j))));
      if (!b) return reload();
      b.app = a.app;
    }
    const before = current.find((x) => x.name === b.name)!;
    b.slots.forEach((addr, i) => {
      if (addr && !a.backends.includes(addr)) {
        out(b, i);
        b.slots[i] = null;
      }
    });
    for (const addr of a.backends) {
      if (b.slots.includes(addr)) continue;
      // A slot whose server is still there (emptied by this change, or not deleted yet) is not reused.
      let i = b.slots.findIndex((s, j) => s === null && before.slots[j] === null && !deleting.has(server(b, j)) && !deleting.has(panic(b, j)));
      if (i < 0) i = b.slots.push(null) - 1;
      if (!IPV4.test(addr.split(":")[0])) return reload();
      b.slots[i] = addr;
      // Added in maintenance with checks off (HAProxy's way); checked from the start, then ready.
      adds.push(
        `add server ${server(b, i)} ${addr} ${SERVER_OPTIONS}`,
        `enable health ${server(b, i)}`,
        `enable server ${server(b, i)}`,
        `add server ${panic(b, i)} ${addr} backup`,
        `enable server ${panic(b, i)}`,
      );
    }
    b.hosts = a.hosts;
  }
  // The host map last for what comes (its replicas are ready by then), first for what goes.
  const wantedMap = new Map(next.flatMap((b) => (b.app ? b.hosts.map((h) => [h, route(b)] as const) : [])));
  for (const [host, value] of wantedMap) {
    const was = mapped.get(host);
    if (was === undefined) mapAdds.push(`add map ${mapFile} ${host} ${value}`);
    else if (was !== value) mapAdds.push(`set map ${mapFile} ${host} ${value}`);
  }
  for (const host of mapped.keys()) if (!wantedMap.has(host)) mapDels.push(`del map ${mapFile} ${host}`);
  return { reload: false, next, commands: [...adds, ...mapAdds, ...mapDels, ...removes], deletes };
}

export class DataPlane {
  private pool: Backend[] = [];
  /** The custom domains' certificates HAProxy serves, by host. */
  private certs = new Map<string, LoadedCert>();
  /** Hosts whose published certificate could not be had yet (host -> sha256), and those already said. */
  private waitingCerts = new Map<string, string>();
  private readonly saidCerts = new Map<string, string>();
  private queue: Promise<void> = Promise.resolve();
  /** Servers in maintenance waiting to be deleted (backend/slot), and the sweep that deletes them. */
  private deleting = new Set<string>();
  private sweeping?: NodeJS.Timeout;
  private readonly f: ReturnType<typeof files>;

  constructor(
    private readonly settings: DataPlaneSettings,
    private readonly haproxy: HAProxy,
    private readonly fetchCert: FetchCert,
  ) {
    this.f = files(settings.dir);
  }

  /** Writes everything for `apps` and `certs` (host -> sha256 published) and starts HAProxy on it. */
  async start(apps: AppRoutes[], certs: Map<string, string> = new Map()): Promise<void> {
    const next = freshPool(apps);
    const nextCerts = await this.certsFor(certs, new Map());
    // Copies left by an earlier run for hosts it serves no more.
    const files = fs.existsSync(this.certsDir()) ? fs.readdirSync(this.certsDir()) : [];
    for (const f of files) if (!nextCerts.has(f.replace(/\.pem$/, ""))) fs.rmSync(`${this.certsDir()}/${f}`, { force: true });
    this.put(this.f.crtList, renderCrtList(nextCerts));
    this.write(next);
    await this.haproxy.start();
    this.pool = next;
    this.certs = nextCerts;
  }

  /** Applies the table's latest state; changes apply one at a time, in order. */
  update(apps: AppRoutes[], certs: Map<string, string> = new Map()): Promise<void> {
    const run = this.queue.then(() => this.apply(apps, certs));
    this.queue = run.catch(() => {});
    return run;
  }

  /** What HAProxy serves now: the pool's backends. */
  backends(): Backend[] {
    return this.pool;
  }

  /** The certificates HAProxy serves now, by host. */
  loadedCerts(): Map<string, LoadedCert> {
    return this.certs;
  }

  /** Whether a published certificate is still to be had (the next update tries again). */
  certsWaiting(): boolean {
    return this.waitingCerts.size > 0;
  }

  private certsDir = () => `${this.settings.tlsDir}/domains`;

  private async certsFor(certs: Map<string, string>, loaded: Map<string, LoadedCert>): Promise<Map<string, LoadedCert>> {
    const { next, waiting } = await certsToLoad(this.settings.tlsDir, certs, loaded, this.fetchCert, this.saidCerts);
    this.waitingCerts = waiting;
    for (const host of this.saidCerts.keys()) if (!certs.has(host)) this.saidCerts.delete(host);
    return next;
  }

  private async apply(apps: AppRoutes[], certs: Map<string, string>): Promise<void> {
    const p = plan(this.pool, apps, this.f.map, this.deleting);
    const nextCerts = await this.certsFor(certs, this.certs);
    // What a reload (now or later) loads.
    this.put(this.f.crtList, renderCrtList(nextCerts));
    if (p.reload) {
      await this.reload(p.next, nextCerts);
      console.log(`router: HAProxy reloaded with ${p.next.length} backends of ${p.next[0].slots.length} slots`);
      return;
    }
    const tls = certSteps(this.f.crtList, this.certs, nextCerts);
    try {
      await this.steps(tls.adds);
    } catch (err) {
      console.error(`router: ${(err as Error).message}; reloading HAProxy from the files instead`);
      return this.reload(p.next, nextCerts);
    }
    for (const c of p.commands) await this.haproxy.command(c);
    for (const d of p.deletes) this.deleting.add(d);
    this.sweepSoon();
    // A certificate left loaded after its host went serves nobody: logged, not fatal.
    await this.steps(tls.removes).catch((err: Error) => console.error(`router: ${err.message}`));
    dropCertFiles(this.settings.tlsDir, this.certs, nextCerts);
    this.pool = p.next;
    this.certs = nextCerts;
  }

  private async reload(next: Backend[], certs: Map<string, LoadedCert>): Promise<void> {
    this.write(next);
    await this.haproxy.reload();
    dropCertFiles(this.settings.tlsDir, this.certs, certs);
    this.pool = next;
    this.certs = certs;
    // The new worker's config has no server in maintenance.
    this.deleting.clear();
  }

  /**
   * Deletes the servers in maintenance that HAProxy lets go (it refuses while one has a
   * connection, idle keep-alive ones included), in the queue with the changes; again each
   * second while some are left.
   */
  private sweepSoon(): void {
    if (this.sweeping || this.deleting.size === 0) return;
    this.sweeping = setTimeout(() => {
      this.sweeping = undefined;
      const run = this.queue.then(async () => {
        for (const s of [...this.deleting]) {
          const answer = await this.haproxy.ask(`del server ${s}`).catch(() => "");
          // "Server deleted." or, after a restart of HAProxy, "No such server.": gone either way.
          if (/Server deleted|No such server/i.test(answer)) this.deleting.delete(s);
        }
        this.sweepSoon();
      });
      this.queue = run.catch(() => {});
    }, 1000);
    this.sweeping.unref();
  }

  private async steps(steps: Step[]): Promise<void> {
    for (const s of steps) {
      try {
        await this.haproxy.expect(s.cmd, s.ok);
      } catch (err) {
        if (s.undo) await this.haproxy.expect(s.undo, /./).catch(() => {});
        throw err;
      }
    }
  }

  // Written aside and renamed: a reload never reads half a file.
  private put(file: string, text: string): void {
    fs.mkdirSync(this.settings.dir, { recursive: true });
    fs.writeFileSync(`${file}.new`, text);
    fs.renameSync(`${file}.new`, file);
  }

  private write(backends: Backend[]): void {
    const s = this.settings;
    fs.mkdirSync(this.f.pages, { recursive: true });
    fs.writeFileSync(this.f.page("404.html"), noSuchApp());
    fs.writeFileSync(this.f.page("413.html"), bodyTooLarge(s.maxBodyBytes));
    fs.writeFileSync(this.f.page("502.html"), perApp(badResponse));
    fs.writeFileSync(this.f.page("503.html"), perApp(noHealthyReplica));
    fs.writeFileSync(this.f.page("504.html"), perApp((app) => timedOut(app, s.responseTimeoutS)));
    this.put(this.f.map, renderMap(backends));
    this.put(this.f.config, renderConfig(s, backends));
  }
}
