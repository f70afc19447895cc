/**
 * The host agent's HTTP API: the only way the control plane (worker) drives a
 * host's runtime. Types are the contract; `AgentClient` is the caller's side.
 *
 * A build, step by step, through this API:
 *   1. `createContainer({ image: "stack/node", cmd, network: "bridge", egress: true, ... })`
 *   2. `putArchive(id, "/app", tarStream)` copies the source into the container's root
 *   3. `start(id)`; `logs(id, { follow: true })` streams its output line by line
 *   4. `wait(id)` -> exit code (and whether a limit killed it)
 *   5. `commit(id, { name: "app/hello:v3", config })` keeps its writable layer as an image
 *   6. `remove(id)`
 * A deploy: `createContainer({ image: "app/hello:v3", env: { PORT }, network: "bridge" })`,
 * `start`, then the router is pointed at `info.ip:PORT`.
 */
import { z } from "zod";


// ---------- what callers send: zod schemas, parsed at the agent's edge ----------
// Each request body and query is a schema here and its type is inferred from it, so the
// contract the client compiles against and the check the agent makes cannot drift apart.
// Objects are strict: a misspelt field is a 400 naming it, not a setting silently dropped.

const MiB = 1 << 20;
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.int().min(min).max(max);
const stringMap = z.record(z.string(), z.string());
const absolutePath = z.string().startsWith("/", "must be an absolute path");

export const ImageConfigSchema = z.strictObject({
  /** Command run when the container starts, unless the spec overrides it. */
  cmd: z.array(z.string()),
  entrypoint: z.array(z.string()).optional(),
  env: stringMap,
  workdir: absolutePath,
  user: z.string().optional(),
  exposedPorts: z.array(int(1, 65535)).optional(),
  labels: stringMap.optional(),
});
export type ImageConfig = z.infer<typeof ImageConfigSchema>;

/** Owner of the files `putArchive` writes (numeric ids, as in COPY --chown=uid:gid). */
export const ArchiveOwnerSchema = z.strictObject({ uid: int(0, 0xfffffffe), gid: int(0, 0xfffffffe) });
export type ArchiveOwner = z.infer<typeof ArchiveOwnerSchema>;

export const VolumeMountSchema = z.strictObject({
  /** Volume name (see /v1/volumes). */
  name: z.string().min(1),
  /** Absolute path inside the container. */
  path: absolutePath,
  readOnly: z.boolean().optional(),
});
export type VolumeMount = z.infer<typeof VolumeMountSchema>;

export const ContainerSpecSchema = z.strictObject({
  /** Unique on the host; generated when absent. */
  name: z.string().min(1).optional(),
  /** Image name (repo[:tag], tag defaults to "latest") or id. */
  image: z.string().min(1),
  /** Overrides the image's cmd. */
  cmd: z.array(z.string()).optional(),
  /** Added to (and overriding) the image's env. */
  env: stringMap.optional(),
  workdir: absolutePath.optional(),
  hostname: z.string().min(1).max(64).optional(),
  /** Memory limit in bytes (cgroup); required so nothing runs unbounded. */
  memoryBytes: int(4 * MiB).describe("bytes, at least 4 MiB"),
  /** CPU quota in millicores (1000 = one core); optional. */
  cpuMillis: int(1).optional(),
  /** Max number of processes; optional. */
  pidsLimit: int(1).optional(),
  /** Relative CPU weight against other containers, Docker's --cpu-shares scale (2..262144, default 1024); cpu.weight on cgroup v2. */
  cpuShares: int(2, 262144).optional(),
  /**
   * Size cap of the container's writable layer in bytes (at least 8 MiB): writes beyond it fail
   * with ENOSPC. The layer is then a loop-mounted filesystem of its own (costs ~0.2 s at start).
   */
  diskBytes: int(8 * MiB).optional(),
  /** Disk read/write rate caps in bytes/s on the device under the writable layer (blkio / io.max). */
  ioReadBps: int(1024).optional(),
  ioWriteBps: int(1024).optional(),
  /** Network rate cap in kbit/s, each direction, on the container's veth (bridge network only). */
  netRateKbit: int(8).optional(),
  /** Cgroup path below the runtime's root, e.g. "<team>/<app>". */
  cgroupParent: z
    .string()
    .regex(/^[a-zA-Z0-9_.-]+(\/[a-zA-Z0-9_.-]+)*$/, 'must be a relative path like "team/app"')
    .refine((p) => !p.split("/").some((part) => part === "." || part === ".."), 'must not contain "." or ".."'),
  /**
   * "bridge": own network namespace with an address on the bridge; "none": loopback only;
   * "container:<id or name>": join that (running) container's network namespace, a pod:
   * they talk over localhost, the joiner has no address of its own. The namespace lives
   * until its last member is gone, even when the container that made it is removed first.
   */
  network: z.union([z.literal("bridge"), z.literal("none"), z.templateLiteral(["container:", z.string().min(1)])], {
    error: 'must be "bridge", "none" or "container:<id or name>"',
  }),
  /** May this container open connections beyond the host (package registries for builds)? */
  egress: z.boolean().optional(),
  labels: stringMap.optional(),
  /**
   * Restart when it exits: "no" (default), "on-failure" (exit code != 0), "always".
   * Backoff 100 ms doubling to 30 s, back to 100 ms after a run of 10 s; a stop or remove
   * by the user is never undone. Applied by the agent (also across its own restarts).
   */
  restart: z.enum(["no", "on-failure", "always"]).optional(),
  /** With "on-failure": give up after this many restarts. */
  restartMaxRetries: int(0).optional(),
  /** Named volumes mounted at these paths (created on the fly when missing, as Docker does). */
  volumes: z.array(VolumeMountSchema).optional(),
  /** Also mount every volume of that container (id or name), at the same paths. */
  volumesFrom: z.string().min(1).optional(),
  /**
   * Run in a user namespace of the team's own id range (root inside is an unprivileged uid on
   * the host). Default: on wherever the kernel supports it; false turns it off for this one.
   */
  userns: z.boolean().optional(),
});
export type ContainerSpec = z.infer<typeof ContainerSpecSchema>;

export const VolumeSpecSchema = z.strictObject({
  name: z.string().min(1),
  /** Size cap in bytes (its own small filesystem). */
  sizeBytes: int(1).optional(),
  labels: stringMap.optional(),
});
export type VolumeSpec = z.infer<typeof VolumeSpecSchema>;

/** Caps on the sum of all containers of a team (the cgroup `<root>/<team>`); absent = unlimited. */
export const TeamLimitsSchema = z.strictObject({
  memoryBytes: int(4 * MiB).optional(),
  cpuMillis: int(1).optional(),
  pids: int(1).optional(),
});
export type TeamLimits = z.infer<typeof TeamLimitsSchema>;

/** POST /v1/containers/:id/commit */
export const CommitRequestSchema = z.strictObject({
  /** repo:tag of the new image. */
  name: z.string().min(1),
  /** Overrides of the image config (what the container's image had, else). */
  config: ImageConfigSchema.partial().optional(),
});
export type CommitRequest = z.infer<typeof CommitRequestSchema>;

/** POST /v1/images/:name/tag */
export const TagRequestSchema = z.strictObject({ name: z.string().min(1) });
export type TagRequest = z.infer<typeof TagRequestSchema>;

/** POST /v1/images/save */
export const SaveRequestSchema = z.strictObject({ refs: z.array(z.string().min(1)).min(1), gzip: z.boolean().optional() });
export type SaveRequest = z.infer<typeof SaveRequestSchema>;

/** POST /v1/containers/:id/health: wait until the container answers HTTP on `port`. */
export const HealthCheckRequestSchema = z.strictObject({
  port: int(1, 65535),
  /** Give up after this long (at most 10 minutes). */
  timeoutMs: int(1, 600_000),
});
export type HealthCheckRequest = z.infer<typeof HealthCheckRequestSchema>;

/**
 * How a health check ended: healthy; or not, because the container's process exited first
 * ("exited", with its code) or nothing answered within the time ("timeout").
 */
export type HealthCheckResult =
  | { healthy: true; afterMs: number }
  | { healthy: false; reason: "exited"; exitCode?: number; afterMs: number }
  | { healthy: false; reason: "timeout"; afterMs: number };

// Queries arrive as strings: flags are 1/true/0/false, numbers are decimal.
const flag = z.enum(["1", "true", "0", "false"]).transform((v) => v === "1" || v === "true");
const count = z
  .string()
  .regex(/^\d+$/, "must be a whole number")
  .transform(Number);
const seconds = z
  .string()
  .regex(/^\d+(\.\d+)?$/, "must be a number of seconds")
  .transform(Number);
const numericId = z
  .string()
  .regex(/^\d{1,10}$/, "must be a numeric id")
  .transform(Number)
  .pipe(int(0, 0xfffffffe));

/** Linux's signals by name, as `kill -s` and `docker kill --signal` take them (SIG prefix optional). */
const SIGNALS = ["HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"] as const;
export type SignalName = `SIG${(typeof SIGNALS)[number]}`;
const signal = z.union(
  [
    z
      .string()
      .transform((s) => s.toUpperCase().replace(/^SIG/, ""))
      .pipe(z.enum(SIGNALS))
      .transform((s): SignalName => `SIG${s}`),
    z
      .string()
      .regex(/^\d{1,2}$/)
      .transform(Number)
      .pipe(int(1, 64)),
  ],
  { error: "must be a signal name (TERM, SIGHUP, ...) or number (1-64)" },
);

/** Queries of the routes that take any (the keys the agent reads, and nothing else). */
export const Queries = {
  force: z.strictObject({ force: flag.optional() }),
  stop: z.strictObject({ timeout: seconds.optional() }),
  kill: z.strictObject({ signal: signal.optional() }),
  logs: z.strictObject({ follow: flag.optional(), tail: count.optional() }),
  imageArchive: z.strictObject({ path: absolutePath, follow: flag.optional() }),
  putArchive: z
    .strictObject({ path: absolutePath, uid: numericId.optional(), gid: numericId.optional() })
    // ?uid=N alone: gid = uid, as COPY --chown=N does.
    .refine((q) => q.gid === undefined || q.uid !== undefined, { message: "needs uid too", path: ["gid"] }),
  load: z.strictObject({ name: z.string().min(1).optional() }),
};

export type RequestSchema = z.ZodType;
export type Parsed<S extends RequestSchema> = z.output<S>;

/**
 * The value, parsed; or a message naming each wrong field as `where.path: what is expected,
 * got <value>` (the agent answers 400 with it).
 */
export function parseRequest<S extends RequestSchema>(schema: S, value: unknown, where: string): { ok: true; data: z.output<S> } | { ok: false; error: string } {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return { ok: true, data: r.data };
  const problems = r.error.issues.map((i) => {
    const at = i.path.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : `${s}.${String(k)}`), where);
    if (i.code === "unrecognized_keys") return `${at}: ${i.message}`;
    const got = i.input === undefined ? "nothing" : JSON.stringify(i.input).slice(0, 80);
    // zod's own "expected int, received number" hides which number; the value says more.
    if (i.code === "invalid_type") return `${at}: expected ${i.expected}, got ${got}`;
    // A rule across fields (gid needs uid) is about the request, not one value worth quoting.
    const isObject = typeof i.input === "object" && i.input !== null && !Array.isArray(i.input);
    return isObject ? `${at}: ${i.message}` : `${at}: ${i.message}, got ${got}`;
  });
  return { ok: false, error: problems.join("; ") };
}

/** One step that made an image, as in an OCI image config's `history`. */
export interface ImageHistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  /** True when the step made no layer (a config change). */
  empty_layer?: boolean;
}

export interface ImageInfo {
  /** sha256:<hex> of the image's OCI config JSON (older images: of its config + layer list). */
  id: string;
  /** Names (repo:tag) pointing at this image. */
  names: string[];
  /** Layer digests (sha256:<hex>), bottom first. */
  layers: string[];
  config: ImageConfig;
  createdAt: string;
  sizeBytes: number;
  /** The steps that made the image, bottom first (non-empty ones line up with `layers`). */
  history?: ImageHistoryEntry[];
}

/** One row of an image's history, newest first: the step, the layer it made (if any) and its size. */
export interface ImageHistoryRow extends ImageHistoryEntry {
  layer?: string;
  sizeBytes: number;
}

/** What image garbage collection removed: unnamed unused images, unreferenced layers. */
export interface PruneResult {
  images: string[];
  layers: string[];
  /** Bytes of the removed layers (as tars). */
  bytes: number;
}

export interface VolumeInfo {
  name: string;
  createdAt: string;
  /** Size cap in bytes (own small filesystem: writes beyond it get ENOSPC), when set. */
  sizeBytes?: number;
  labels: Record<string, string>;
  /** Host path of its data. */
  path: string;
}

export type ContainerState = "created" | "running" | "paused" | "exited";

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  imageId: string;
  state: ContainerState;
  /** Host pid of the container's init, when running. */
  pid?: number;
  /** Address on the bridge, when network is "bridge". */
  ip?: string;
  exitCode?: number;
  /** True when the memory limit killed it. */
  oomKilled?: boolean;
  /** The container's memory limit (spec.memoryBytes); with oomKilled, the limit it hit (or its team's). */
  memoryLimitBytes?: number;
  /** Restarts made by the restart policy since the user's last start (when it has a policy). */
  restartCount?: number;
  /** Pod member: the id of the container whose network namespace it joined. */
  networkOf?: string;
  /** Volumes mounted (its own and those of volumesFrom). */
  volumes?: VolumeMount[];
  labels: Record<string, string>;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface LogLine {
  /** ISO timestamp of when the line was read. */
  t: string;
  stream: "stdout" | "stderr";
  line: string;
}

export interface WaitResult {
  exitCode: number;
  oomKilled: boolean;
  /** Set when oomKilled: the container's memory limit in bytes. */
  memoryLimitBytes?: number;
}

export interface AgentHealth {
  ok: true;
  hostname: string;
  cgroupDriver: "v1" | "v2";
  memoryBytes: number;
  cpus: number;
}

/** Error from the agent: `status` is the HTTP status, `message` says what to do. */
export class AgentError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "AgentError";
  }
}

/** The agent's answer, or undefined when it said 404 (the image, path or container is not there). */
export async function unlessAbsent<T>(answer: Promise<T>): Promise<T | undefined> {
  try {
    return await answer;
  } catch (err) {
    if (err instanceof AgentError && err.status === 404) return undefined;
    throw err;
  }
}

/**
 * Routes (all JSON unless noted; errors are `{ "error": "..." }` with a 4xx/5xx status). An agent
 * with a token (PAAS_AGENT_TOKEN) answers 401 to any request without `Authorization: Bearer <token>`.
 *   GET    /v1/health                      -> AgentHealth
 *   GET    /v1/images                      -> ImageInfo[]
 *   GET    /v1/images/:name                -> ImageInfo            (name url-encoded)
 *   DELETE /v1/images/:name?force=1        -> { removed: string[] }
 *   POST   /v1/images/:name/tag  { name }  -> ImageInfo            (another name for the image)
 *   GET    /v1/images/:name/history        -> ImageHistoryRow[]    (newest first)
 *   GET    /v1/images/:name/archive?path=/app&follow=1 -> tar      (the merged files of its layers at
 *                                             that path, whiteouts honoured; 404 when absent; follow:
 *                                             a symlink at path is archived as its target)
 *   HEAD   /v1/images/:name/archive?path=/app -> 200 with x-paas-path-kind (file, directory, symlink,
 *                                             other), or 404
 *   POST   /v1/images/save  { refs, gzip? } -> tar                 (OCI layout + docker manifest.json)
 *   POST   /v1/images/load?name=N  body: tar -> ImageInfo[]        (OCI layout or docker save tar)
 *   POST   /v1/images/prune                -> PruneResult          (unnamed unused images, unreferenced layers)
 *   GET    /v1/containers                  -> ContainerInfo[]
 *   POST   /v1/containers   ContainerSpec  -> ContainerInfo        (state "created")
 *   GET    /v1/containers/:id              -> ContainerInfo        (id or name)
 *   PUT    /v1/containers/:id/archive?path=/dir&uid=N&gid=M  body: tar -> { ok: true }
 *   POST   /v1/containers/:id/start        -> ContainerInfo        (state "running", ip set)
 *   POST   /v1/containers/:id/stop?timeout=10 -> ContainerInfo     (SIGTERM, then SIGKILL)
 *   POST   /v1/containers/:id/kill?signal=HUP -> ContainerInfo      (SIGKILL when none is named)
 *   POST   /v1/containers/:id/wait         -> WaitResult           (blocks until exit)
 *   POST   /v1/containers/:id/health  HealthCheckRequest -> HealthCheckResult (blocks until it answers
 *                                             HTTP on the port from the agent's side, exits, or times out)
 *   GET    /v1/containers/:id/logs?follow=1&tail=N -> NDJSON LogLine stream
 *   POST   /v1/containers/:id/commit  { name, config? } -> ImageInfo
 *   DELETE /v1/containers/:id?force=1      -> { ok: true }         (force stops it first)
 *   GET    /v1/volumes                     -> VolumeInfo[]
 *   POST   /v1/volumes      VolumeSpec     -> VolumeInfo
 *   GET    /v1/volumes/:name               -> VolumeInfo
 *   DELETE /v1/volumes/:name               -> { ok: true }         (409 while a container refers to it)
 *   POST   /v1/containers/:id/pause        -> ContainerInfo        (state "paused": frozen by the cgroup freezer)
 *   POST   /v1/containers/:id/unpause      -> ContainerInfo        (state "running")
 *   PUT    /v1/cgroups/:team  TeamLimits   -> TeamLimits           (caps the sum of the team's containers)
 *   GET    /v1/cgroups/:team               -> TeamLimits
 */
export class AgentClient {
  /** `token`: the agent's PAAS_AGENT_TOKEN, sent as a bearer token with every request. */
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  /** fetch, with "the agent is not there" as an AgentError (503) a caller can tell apart. */
  private async send(method: string, path: string, init: RequestInit = {}): Promise<Response> {
    const headers = { ...(init.headers as Record<string, string> | undefined), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
    try {
      return await fetch(this.baseUrl + path, { method, ...init, headers });
    } catch (err) {
      throw new AgentError(`cannot reach the host agent at ${this.baseUrl} (${(err as Error).message}); is it running?`, 503);
    }
  }

  private async call<T>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
    const res = await this.send(method, path, {
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...init,
    });
    const text = await res.text();
    const data = text ? JSON.parse(text) : undefined;
    if (!res.ok) throw new AgentError(data?.error ?? `agent answered ${res.status}`, res.status);
    // A long answer (wait, health) that failed after its 200 went out says so in its body.
    if (typeof data?.error === "string") throw new AgentError(data.error, 500);
    return data as T;
  }

  health() {
    return this.call<AgentHealth>("GET", "/v1/health");
  }
  images() {
    return this.call<ImageInfo[]>("GET", "/v1/images");
  }
  image(name: string) {
    return this.call<ImageInfo>("GET", `/v1/images/${encodeURIComponent(name)}`);
  }
  removeImage(name: string, force = false) {
    return this.call<{ removed: string[] }>("DELETE", `/v1/images/${encodeURIComponent(name)}${force ? "?force=1" : ""}`);
  }
  /** Gives image `source` (name or id) the name `target` (repo:tag) too. */
  tagImage(source: string, target: string) {
    return this.call<ImageInfo>("POST", `/v1/images/${encodeURIComponent(source)}/tag`, { name: target });
  }
  imageHistory(name: string) {
    return this.call<ImageHistoryRow[]>("GET", `/v1/images/${encodeURIComponent(name)}/history`);
  }
  /** Unnamed images no container uses, and layers nothing references, go. */
  pruneImages() {
    return this.call<PruneResult>("POST", "/v1/images/prune");
  }
  /**
   * The files at `path` in an image, as a tar stream (one top entry named after the path's last
   * component). `follow`: a symlink there is archived as what it points to. 404 when absent.
   */
  imageArchive(name: string, path: string, opts: { follow?: boolean; signal?: AbortSignal } = {}) {
    const q = new URLSearchParams({ path });
    if (opts.follow) q.set("follow", "1");
    return this.stream("GET", `/v1/images/${encodeURIComponent(name)}/archive?${q}`, { signal: opts.signal });
  }
  /** What is at `path` in an image ("file", "directory", "symlink", "other"), or undefined when nothing is. */
  async imagePathKind(name: string, path: string): Promise<string | undefined> {
    const url = `/v1/images/${encodeURIComponent(name)}/archive?${new URLSearchParams({ path })}`;
    const res = await this.send("HEAD", url);
    if (res.status === 404) {
      // A HEAD has no body to say why: a missing image throws its own 404 here, else the path is absent.
      await this.image(name);
      return undefined;
    }
    if (!res.ok) throw new AgentError(`agent answered ${res.status} to HEAD ${url}`, res.status);
    return res.headers.get("x-paas-path-kind") ?? undefined;
  }
  /** `docker save`: the images as one tar (OCI image layout plus docker's manifest.json). */
  saveImages(refs: string[], opts: { gzip?: boolean; signal?: AbortSignal } = {}) {
    return this.stream("POST", "/v1/images/save", {
      body: JSON.stringify({ refs, gzip: !!opts.gzip }),
      headers: { "content-type": "application/json" },
      signal: opts.signal,
    });
  }
  /** `docker load`: images from a tar (OCI layout or docker save); `name` renames a single image. */
  loadImages(tar: BodyInit, opts: { name?: string } = {}) {
    const q = opts.name ? `?name=${encodeURIComponent(opts.name)}` : "";
    return this.call<ImageInfo[]>("POST", `/v1/images/load${q}`, undefined, {
      body: tar,
      headers: { "content-type": "application/x-tar" },
      duplex: "half",
    } as RequestInit);
  }
  containers() {
    return this.call<ContainerInfo[]>("GET", "/v1/containers");
  }
  container(id: string) {
    return this.call<ContainerInfo>("GET", `/v1/containers/${encodeURIComponent(id)}`);
  }
  createContainer(spec: ContainerSpec) {
    return this.call<ContainerInfo>("POST", "/v1/containers", spec);
  }
  /**
   * Extract a tar stream into `dir` inside the (created, not yet started) container. The files
   * belong to `owner` when given, else to the container's user (root: the tar's owners).
   */
  putArchive(id: string, dir: string, tar: BodyInit, opts: { owner?: ArchiveOwner } = {}) {
    const q = new URLSearchParams({ path: dir });
    if (opts.owner) q.set("uid", String(opts.owner.uid)), q.set("gid", String(opts.owner.gid));
    return this.call<{ ok: true }>("PUT", `/v1/containers/${encodeURIComponent(id)}/archive?${q}`, undefined, {
      body: tar,
      headers: { "content-type": "application/x-tar" },
      duplex: "half",
    } as RequestInit);
  }
  start(id: string) {
    return this.call<ContainerInfo>("POST", `/v1/containers/${encodeURIComponent(id)}/start`);
  }
  stop(id: string, timeoutSeconds = 10) {
    return this.call<ContainerInfo>("POST", `/v1/containers/${encodeURIComponent(id)}/stop?timeout=${timeoutSeconds}`);
  }
  /** Sends the container's process a signal (name or number; SIGKILL by default), as `docker kill`. */
  kill(id: string, signal?: string | number) {
    const q = signal === undefined ? "" : `?${new URLSearchParams({ signal: String(signal) })}`;
    return this.call<ContainerInfo>("POST", `/v1/containers/${encodeURIComponent(id)}/kill${q}`);
  }
  wait(id: string, signal?: AbortSignal) {
    return this.call<WaitResult>("POST", `/v1/containers/${encodeURIComponent(id)}/wait`, undefined, { signal });
  }
  /**
   * Waits on the agent's side until the (running) container answers HTTP on `port`, its process
   * exits, or `timeoutMs` passes; the caller never dials the container's address itself.
   */
  healthCheck(id: string, check: HealthCheckRequest, signal?: AbortSignal) {
    return this.call<HealthCheckResult>("POST", `/v1/containers/${encodeURIComponent(id)}/health`, check, { signal });
  }
  commit(id: string, name: string, config?: Partial<ImageConfig>) {
    return this.call<ImageInfo>("POST", `/v1/containers/${encodeURIComponent(id)}/commit`, { name, config });
  }
  pause(id: string) {
    return this.call<ContainerInfo>("POST", `/v1/containers/${encodeURIComponent(id)}/pause`);
  }
  unpause(id: string) {
    return this.call<ContainerInfo>("POST", `/v1/containers/${encodeURIComponent(id)}/unpause`);
  }
  /** Caps the sum of a team's containers (memory, CPU, processes); applies at once and to later starts. */
  setTeamLimits(team: string, limits: TeamLimits) {
    return this.call<TeamLimits>("PUT", `/v1/cgroups/${encodeURIComponent(team)}`, limits);
  }
  teamLimits(team: string) {
    return this.call<TeamLimits>("GET", `/v1/cgroups/${encodeURIComponent(team)}`);
  }
  volumes() {
    return this.call<VolumeInfo[]>("GET", "/v1/volumes");
  }
  volume(name: string) {
    return this.call<VolumeInfo>("GET", `/v1/volumes/${encodeURIComponent(name)}`);
  }
  createVolume(spec: VolumeSpec) {
    return this.call<VolumeInfo>("POST", "/v1/volumes", spec);
  }
  removeVolume(name: string) {
    return this.call<{ ok: true }>("DELETE", `/v1/volumes/${encodeURIComponent(name)}`);
  }
  remove(id: string, force = false) {
    return this.call<{ ok: true }>("DELETE", `/v1/containers/${encodeURIComponent(id)}${force ? "?force=1" : ""}`);
  }

  /** A streamed (binary) answer: its body once the agent said yes, its error otherwise. */
  private async stream(method: string, path: string, init: RequestInit = {}): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send(method, path, init);
    if (!res.ok || !res.body) {
      const data = await res.json().catch(() => ({}));
      throw new AgentError(data?.error ?? `agent answered ${res.status}`, res.status);
    }
    return res.body;
  }

  /** Yields the container's log lines; with follow, until the container exits. */
  async *logs(id: string, opts: { follow?: boolean; tail?: number; signal?: AbortSignal } = {}): AsyncGenerator<LogLine> {
    const q = new URLSearchParams();
    if (opts.follow) q.set("follow", "1");
    if (opts.tail !== undefined) q.set("tail", String(opts.tail));
    const body = await this.stream("GET", `/v1/containers/${encodeURIComponent(id)}/logs?${q}`, { signal: opts.signal });
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const raw = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (raw.trim()) yield JSON.parse(raw) as LogLine;
      }
    }
  }
}
