/**
 * Names shared through Redis between the web app, the worker and the router.
 * BullMQ queues carry jobs; streams carry build logs; a hash is the routing table.
 */
export const QUEUE_BUILDS = "builds";

/** Job data of a build job (the job id is the build id, so re-adding is a no-op). */
export interface BuildJobData {
  buildId: string;
}

/** Releases that need no build (config change, rollback, preview removal); the worker runs them. */
export const QUEUE_DEPLOYS = "deploys";

/**
 * A config job names its ConfigChange row (the values stay in the database,
 * never in Redis); the worker applies it under the app's deploy lock.
 */
export type DeployJobData =
  | { kind: "config"; appId: string; changeId: string; description: string }
  | { kind: "rollback"; appId: string; version: number }
  | { kind: "destroy-preview"; appId: string };

export interface DeployJobResult {
  ok: boolean;
  /** The release made: the live one when ok, the failed one otherwise (absent when none was made). */
  version?: number;
  error?: string;
  /** The caller stopped waiting; the job goes on (and a config change still applies or fails). */
  stillRunning?: boolean;
  log: string[];
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
 * (e.g. "hello.localhost"), value = JSON RouteEntry. Changes are announced
 * on the ROUTES_CHANNEL pub/sub channel (message = host name).
 */
export const ROUTES_KEY = "paas:routes";
export const ROUTES_CHANNEL = "paas:routes:changed";

export interface RouteEntry {
  app: string;
  /** "ip:port" of each healthy replica. */
  backends: string[];
}
