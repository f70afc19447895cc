/**
 * Names shared through Redis between the web app, the worker and the router.
 * BullMQ queues carry jobs; streams carry build logs; a hash is the routing table.
 */
export const QUEUE_BUILDS = "builds";

/** Job data of a build job (the job id is the build id, so re-adding is a no-op). */
export interface BuildJobData {
  buildId: string;
}

/** Releases that need no build (config change, rollback), removing apps, and ps changes; the worker runs them. */
export const QUEUE_DEPLOYS = "deploys";

/**
 * The reconcile loop's passes (worker/src/reconcile.ts) are jobs of this queue, all with one
 * job id, so one is queued at a time whatever the number of workers asking.
 */
export const QUEUE_RECONCILE = "reconcile";
/**
 * How often each worker's watch (worker/src/reconcile-watch.ts) compares what the agents run
 * with what the last pass left: an app whose replicas went is back within about this plus
 * the pass and their start.
 */
export const RECONCILE_EVERY_MS = 5_000;
/** What the last reconcile pass left (JSON ReconcileExpected), for the watch to compare with. */
export const RECONCILE_EXPECTED_KEY = "paas:reconcile:expected";
/** Set by anyone who changed an app's desired state behind the containers' back: the watch then asks for a pass. */
export const RECONCILE_REQUEST_KEY = "paas:reconcile:requested";

export interface ReconcileExpected {
  /** Per host (its agent's URL): the replicas the database has as running or on their way. */
  hosts: {
    agentUrl: string;
    /** `sidecars`: the kinds of sidecar the replica must have beside it (the app's Sidecar rows), for a running one. */
    replicas: { id: string; address: string | null; restartCount: number; sidecars?: string[] }[];
    /** The sidecar containers up before the pass (a detached or unknown one is told apart). */
    sidecars?: string[];
  }[];
  /** The routing table's backends per host name, as the pass left it. */
  routes: Record<string, string[]>;
  /**
   * When the pass wants another look with nothing changed (ms since the epoch): a web replica
   * that did not answer yet, replicas of an earlier release whose grace ends.
   */
  dueAt?: number;
}

/**
 * A config job names its ConfigChange row (the values stay in the database,
 * never in Redis); the worker applies it under the app's deploy lock.
 */
export type DeployJobData =
  | { kind: "config"; appId: string; changeId: string; description: string }
  | { kind: "rollback"; appId: string; version: number }
  | { kind: "destroy-preview"; appId: string }
  /** `paas apps:destroy`: the app, its previews and all they have (worker/src/jobs/destroy.ts). */
  | { kind: "destroy"; appId: string }
  /** An outbound network change (egress.ts): applied by a new release, kept only if it goes live. */
  | { kind: "egress"; appId: string; egress: "on" | "off" | "limited"; egressAllow: string; description: string }
  // The app's custom domains changed (domains:add/remove, certs:add): its routes are published again.
  | { kind: "routes"; appId: string }
  | { kind: "formation"; appId: string; change: FormationChange }
  /** sidecars:attach / sidecars:detach (worker/src/sidecars/attach.ts); the app's containers are not restarted. */
  | { kind: "sidecars"; appId: string; change: SidecarChange }
  /** paas run / run:debug: a one-off container made and started (worker/src/oneoff); the API runs the command in it. */
  | { kind: "one-off"; appId: string; mode: "run" | "debug"; replica?: string }
  /** backups:capture / restore / download and a schedule's captures (worker/src/backups). */
  | ({ kind: "backup"; appId: string } & BackupJobOp);

export type BackupJobOp =
  | { op: "capture"; volume?: string; scheduled?: boolean; keep?: number }
  | { op: "restore"; backupId: string; to?: string }
  | { op: "download"; backupId: string };

/** What sidecars:attach asks (the kinds registry, worker/src/sidecars/kinds.ts, resolves it) or which kind detaches. */
export type SidecarChange =
  | {
      action: "attach";
      request: { kind: string; image?: string; cmd?: string[]; volumes?: { name: string; path: string; readOnly?: boolean }[]; net?: "app" | "none"; env?: Record<string, string>; memoryMb?: number };
    }
  | { action: "detach"; kind: string };

/**
 * A ps change (worker/src/jobs/formation.ts applies it to the active release's replicas and
 * writes the Formation rows once it is done): scale, resize, restart, each by process type.
 */
export interface FormationChange {
  /** ps:scale type=N, ps:stop type (0): replicas added or drained and stopped. */
  quantity?: Record<string, number>;
  /** ps:resize: the type's replicas are replaced by ones of the new size. */
  size?: Record<string, { memoryMb?: number; cpuMillis?: number }>;
  /** ps:restart: these types' replicas are replaced as they are (every type when empty). */
  restart?: string[];
}

export interface DeployJobResult {
  ok: boolean;
  /** The release made: the live one when ok, the failed one otherwise (absent when none was made). */
  version?: number;
  error?: string;
  /** The team's quota refused the change (nothing changed): a refusal, not a failure, in the audit log. */
  denied?: boolean;
  /** The caller stopped waiting; the job goes on (and a config change still applies or fails). */
  stillRunning?: boolean;
  log: string[];
  /** one-off: the container made, on the host of that agent. */
  container?: { agentUrl: string; id: string; replica?: string; snapshot?: string };
  /** backup capture: the Backup row made. */
  backupId?: string;
}

/**
 * A build's log as a Redis stream. Entries have either `line` (a log line) or,
 * last, `status` ("succeeded" | "failed") with `url` or `error`.
 */
export const buildLogKey = (buildId: string) => `paas:build:${buildId}:log`;

/** Source tarball of a build, stored under the data dir by the git endpoint. */
export const buildSourcePath = (dataDir: string, buildId: string) => `${dataDir}/sources/${buildId}.tar`;

/**
 * Routing table published by the control plane: hash field = host name
 * (e.g. "hello.localhost"), value = JSON RouteEntry. Each change takes the next number of
 * ROUTES_SERIAL_KEY and is announced on the ROUTES_CHANNEL pub/sub channel (message =
 * routeMessage: that number and the host name).
 */
export const ROUTES_KEY = "paas:routes";
export const ROUTES_CHANNEL = "paas:routes:changed";
export const ROUTES_SERIAL_KEY = "paas:routes:serial";
/**
 * The router's acknowledgement: the highest change number whose table HAProxy serves now. A
 * deploy waits for it before it reports the app live (worker/src/pipeline/route.ts).
 */
export const ROUTES_APPLIED_KEY = "paas:router:applied";

export const routeMessage = (serial: number, host: string) => `${serial} ${host}`;
/** A ROUTES_CHANNEL message's parts (serial 0: a message without one). */
export function parseRouteMessage(message: string): { serial: number; host: string } {
  const space = message.indexOf(" ");
  if (space < 0) return { serial: 0, host: message };
  return { serial: Number(message.slice(0, space)) || 0, host: message.slice(space + 1) };
}

/**
 * A custom domain's certificate chain and key (PEM, as tls.ts checkCertificate made it) under
 * its sha256: what a RouteEntry's `cert` names, for every router to fetch wherever it runs.
 * Written by the API before the route naming it is published; removed once no domain names
 * it (prisma/domains.ts pruneCerts, the one owner of that rule). Never in the database.
 */
export const CERTS_KEY_PREFIX = "paas:certs:";
export const certKey = (sha256: string) => `${CERTS_KEY_PREFIX}${sha256}`;

/** The router's per-app access figures: hash field = app name, value = JSON (apps/router/src/figures.ts). */
export const ROUTER_FIGURES_KEY = "paas:router:figures";

export interface RouteEntry {
  app: string;
  /** "ip:port" of each healthy replica. */
  backends: string[];
  /**
   * A custom domain's certificate: the sha256 of its PEM (stored at certKey(sha256)), which
   * the router loads for TLS requests with this host's SNI. Absent: the default certificate.
   */
  cert?: string;
}

/** The BullMQ job scheduler of an app's backups (backups:schedule): repeatable "backup" deploy jobs. */
export const backupScheduleId = (appId: string) => `backup-schedule:${appId}`;
