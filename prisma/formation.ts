/**
 * An app's formation: its desired state, what the platform keeps running. It is the app's
 * active release (image, config, process types) and, per process type of that release, a
 * Formation row (quantity, memory, CPU). Every reader (deploys, ps:scale/resize/restart, the
 * reconcile loop, quotas, the API) takes it from here, so it means one thing everywhere:
 *
 * - every process type of the active release runs; its row is made on first sight with the
 *   schema's defaults (quantity 1, 256 MB, 250 millicores);
 * - rows of types the active release does not have are kept (a rollback to a release that has
 *   the type again finds its scale) but run nothing and count for no quota;
 * - an app without an active release runs nothing.
 *
 * Imported as `@paas/db/formation`.
 */
import type { Formation, Prisma, PrismaClient, Release } from "./index.ts";

type Client = PrismaClient | Prisma.TransactionClient;

/** The process type routed and health-checked on $PORT; the others only run. */
export const WEB = "web";

/** The process types of a release, web first, then by name. */
export function processTypesOf(release: Pick<Release, "processTypes">): string[] {
  const types = Object.keys(JSON.parse(release.processTypes) as Record<string, string>);
  return types.sort((a, b) => (a === WEB ? -1 : b === WEB ? 1 : a.localeCompare(b)));
}

/**
 * The rows of `types` (in that order), made with the defaults where missing. Made in one
 * statement per type with the unique key, so two callers at once make each row once.
 */
export async function formationFor(client: Client, appId: string, types: string[]): Promise<Formation[]> {
  const rows: Formation[] = [];
  for (const processType of types) {
    rows.push(await client.formation.upsert({ where: { appId_processType: { appId, processType } }, create: { appId, processType }, update: {} }));
  }
  return rows;
}

/** The app's live release (null when none is), the newest active one. */
export const activeRelease = (client: Client, appId: string): Promise<Release | null> =>
  client.release.findFirst({ where: { appId, status: "active" }, orderBy: { version: "desc" } });

export interface DesiredState {
  release: Release;
  /** One row per process type of the release, web first. */
  formation: Formation[];
}

/** What should run for the app now; null when nothing should (no active release). */
export async function desiredState(client: Client, appId: string): Promise<DesiredState | null> {
  const release = await activeRelease(client, appId);
  if (!release) return null;
  return { release, formation: await formationFor(client, appId, processTypesOf(release)) };
}

/** What a set of rows takes from the team's quota. */
export interface FormationUse {
  replicas: number;
  memoryMb: number;
  cpuMillis: number;
}

/** `sidecarMb`: the memory of the app's sidecars, which every replica has one of each of. */
export function useOf(rows: Pick<Formation, "quantity" | "memoryMb" | "cpuMillis">[], sidecarMb = 0): FormationUse {
  return {
    replicas: rows.reduce((n, f) => n + f.quantity, 0),
    memoryMb: rows.reduce((n, f) => n + f.quantity * (f.memoryMb + sidecarMb), 0),
    cpuMillis: rows.reduce((n, f) => n + f.quantity * f.cpuMillis, 0),
  };
}

/** What each app of the team is scaled to: its rows of the types its active release has. */
export async function teamUseByApp(client: Client, teamId: string): Promise<Map<string, FormationUse>> {
  const apps = await client.app.findMany({
    where: { teamId },
    select: { id: true, formations: true, sidecars: { select: { memoryMb: true } }, releases: { where: { status: "active" }, orderBy: { version: "desc" }, take: 1, select: { processTypes: true } } },
  });
  const out = new Map<string, FormationUse>();
  for (const a of apps) {
    const live = a.releases[0];
    const types = new Set(live ? processTypesOf(live) : []);
    out.set(a.id, useOf(a.formations.filter((f) => types.has(f.processType)), a.sidecars.reduce((n, s) => n + s.memoryMb, 0)));
  }
  return out;
}

/**
 * What the team's apps other than `exceptAppId` are scaled to: each app's rows of the types
 * its active release has (what the formation makes run), not the containers running now.
 */
export async function teamUse(client: Client, teamId: string, exceptAppId?: string): Promise<FormationUse> {
  const total: FormationUse = { replicas: 0, memoryMb: 0, cpuMillis: 0 };
  for (const [id, u] of await teamUseByApp(client, teamId)) {
    if (id === exceptAppId) continue;
    total.replicas += u.replicas;
    total.memoryMb += u.memoryMb;
    total.cpuMillis += u.cpuMillis;
  }
  return total;
}
