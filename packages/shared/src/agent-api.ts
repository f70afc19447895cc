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
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const says = max === Number.MAX_SAFE_INTEGER ? `must be a whole number, at least ${min}` : `must be a whole number from ${min} to ${max}`;
  return z.int(says).min(min, says).max(max, says);
};
const stringMap = z.record(z.string(), z.string());
const absolutePath = z.string().startsWith("/", "must be an absolute path");
/** A container's or a volume's name: it names files and cgroups on the host. */
const objectName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, "must be letters, digits, _ . or - (at most 128), starting with a letter or digit");

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
  name: objectName,
  /** Absolute path inside the container. */
  path: absolutePath,
  readOnly: z.boolean().optional(),
});
export type VolumeMount = z.infer<typeof VolumeMountSchema>;

export const BindMountSchema = z.strictObject({
  /** Absolute path of an existing file or directory on the host. */
  source: absolutePath,
  /** Absolute path inside the container (made when the image lacks it; never left in a commit). */
  target: absolutePath,
  /** Said every time: a host path is shared with a container only as the caller decides. */
  readOnly: z.boolean(),
});
export type BindMount = z.infer<typeof BindMountSchema>;

/** One destination of ContainerSpec.egressAllow: an IPv4 network and a port (TCP unless said). */
export const EgressAllowRuleSchema = z.strictObject({
  cidr: z.cidrv4(),
  port: int(1, 65535),
  protocol: z.enum(["tcp", "udp"]).optional(),
});
export type EgressAllowRule = z.infer<typeof EgressAllowRuleSchema>;

export const ContainerSpecSchema = z.strictObject({
  /** Unique on the host; generated when absent. */
  name: objectName.optional(),
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
  /**
   * Seconds after each start during which cpuMillis is not applied (a startup CPU boost, as
   * Kubernetes' startup-cpu-boost): a process starting up (an interpreter loading its modules)
   * runs at the speed its team's cgroup allows, then is held to its quota. Optional.
   */
  cpuBoostSeconds: int(1, 300).optional(),
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
  /**
   * With egress off: the only destinations beyond the host it may open connections to (and
   * its DNS servers' port 53). Never the host itself nor other teams' containers, whatever
   * is listed. Ignored with egress true (everything is allowed then). Set when the container
   * starts; a change takes a new container.
   */
  egressAllow: z.array(EgressAllowRuleSchema).max(256).optional(),
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
  /**
   * Host files or directories bound at these paths (builds: the local package indexes, a CA
   * bundle, a constraints file the host's pip or npm configuration names). Read-only ones are
   * read-only for root inside too, with or without a user namespace.
   */
  binds: z.array(BindMountSchema).optional(),
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
  name: objectName,
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

/**
 * POST /v1/images/rebase: `name` becomes `onto`'s layers + what `image` has on top of `from`'s
 * (image's config). An app built on a build stack runs on its run stack without the compilers,
 * as `image`'s layers start with `from`'s (a 400 says so when they do not).
 */
export const RebaseRequestSchema = z.strictObject({
  /** The image to move (name or id). */
  image: z.string().min(1),
  /** The base it was built on: its layers must be the first of `image`'s. */
  from: z.string().min(1),
  /** The base to put it on instead. */
  onto: z.string().min(1),
  /** repo:tag of the result. */
  name: z.string().min(1),
});
export type RebaseRequest = z.infer<typeof RebaseRequestSchema>;

/** POST /v1/images/save */
export const SaveRequestSchema = z.strictObject({ refs: z.array(z.string().min(1)).min(1), gzip: z.boolean().optional() });
export type SaveRequest = z.infer<typeof SaveRequestSchema>;

/**
 * POST /v1/containers/:id/exec (an HTTP upgrade: see EXEC_PROTOCOL): a command run in the
 * running container, in its namespaces, cgroups and confinement, as `docker exec`.
 */
export const ExecRequestSchema = z.strictObject({
  cmd: z.array(z.string()).min(1, "must name a command"),
  /** Added to the container's own environment (its init's). */
  env: stringMap.optional(),
  /** Default: the container's working dir. */
  workdir: absolutePath.optional(),
  /** Numeric ids inside the container; default: the container's user. */
  user: z.strictObject({ uid: int(0, 0xfffffffe), gid: int(0, 0xfffffffe) }).optional(),
  /** A terminal of the container's own for the command (stdout and stderr merged, as on a terminal). */
  tty: z.boolean().optional(),
  /** The terminal's first size (a `W` frame changes it later). */
  size: z.strictObject({ rows: int(1, 65535), cols: int(1, 65535) }).optional(),
  /**
   * The container goes with the command: removed when it ends or its caller hangs up (a
   * one-off's, `paas run`: nothing is left when the API that relays it dies mid-run).
   */
  removeContainer: z.boolean().optional(),
});
export type ExecRequest = z.infer<typeof ExecRequestSchema>;

/**
 * An HTTP check an app declares (Dokku's CHECKS file or app.json `healthchecks`): GET `path`
 * until it answers as expected, up to `attempts` times. Refused connections while the app
 * boots spend no attempt: the port answering comes first (HealthCheckRequest.timeoutMs).
 */
export const HttpCheckSchema = z.strictObject({
  /** Path and query of the GET. */
  path: z.string().startsWith("/", "must start with /").max(2048).regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
  /** The status wanted; default any 2xx or 3xx (as Dokku). */
  status: int(100, 599).optional(),
  /** Text the body must contain (its first MiB is read). */
  content: z.string().min(1).max(4096).optional(),
  /** The Host header (CHECKS' `//host/path`); default localhost. */
  host: z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "must be a host name").max(253).optional(),
  /** Counted from the check's start (the replica's start), before the first attempt. */
  initialDelayMs: int(0, 600_000),
  /** An attempt that has no full answer within this fails. */
  timeoutMs: int(1, 600_000),
  attempts: int(1, 100),
  /** Between a failed attempt and the next. */
  waitMs: int(0, 600_000),
});
export type HttpCheck = z.infer<typeof HttpCheckSchema>;

/**
 * POST /v1/containers/:id/health: wait until the container answers HTTP on `port`, then run
 * its `checks` in turn (none: answering is the check).
 */
export const HealthCheckRequestSchema = z.strictObject({
  port: int(1, 65535),
  /** Give up when the port has not answered after this long (at most 10 minutes); the checks' own attempts come on top. */
  timeoutMs: int(1, 600_000),
  checks: z.array(HttpCheckSchema).max(20).optional(),
});
export type HealthCheckRequest = z.infer<typeof HealthCheckRequestSchema>;

/**
 * How a health check ended: healthy; or not, because the container's process exited first
 * ("exited", with its code), nothing answered within the time ("timeout"), or a declared check
 * failed every attempt ("check": `problem` says what the last attempt got, e.g.
 * "GET /health answered 500, expected 200").
 */
export type HealthCheckResult =
  | { healthy: true; afterMs: number }
  | { healthy: false; reason: "exited"; exitCode?: number; afterMs: number }
  | { healthy: false; reason: "timeout"; afterMs: number }
  | { healthy: false; reason: "check"; problem: string; attempts: number; afterMs: number };

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
  containerArchive: z.strictObject({ path: absolutePath }),
  import: z.strictObject({
    name: z.string().min(1),
    /** Image config overrides (`import --change`), as JSON. */
    config: z
      .string()
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: "custom", message: "must be JSON" });
          return z.NEVER;
        }
      })
      .pipe(ImageConfigSchema.partial())
      .optional(),
  }),
};

/**
 * Path params: a container's id or name, an image's name or id, a team, a volume. Parsed at the
 * edge as bodies are: what no store could hold is a 400 naming the param, not a lookup.
 */
export const PathParams = {
  container: z.string().min(1).max(128),
  image: z.string().min(1).max(255),
  team: z.string().regex(/^[a-zA-Z0-9_.-]+$/, "must be letters, digits, _ . or -").refine((t) => t !== "." && t !== "..", 'must not be "." or ".."'),
  volume: objectName,
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

/** The value parsed by `schema`, or `onError(message)` thrown (in-process callers of the runtime). */
export function parseOrThrow<S extends RequestSchema>(schema: S, value: unknown, where: string, onError: (message: string) => Error): z.output<S> {
  const r = parseRequest(schema, value, where);
  if (!r.ok) throw onError(r.error);
  return r.data;
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
  /** What a size-capped volume's filesystem holds (as df counts it), when it is mounted. */
  usedBytes?: number;
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
  /**
   * With a restart policy: a stop or kill by the user ended it, so the policy leaves it down
   * (an exited container without it is restarted after its backoff).
   */
  stoppedByUser?: boolean;
  /** With a restart policy: the last exit it restarted (or will restart) after, also once it runs again. */
  lastExit?: { exitCode: number; oomKilled: boolean; finishedAt: string };
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

/** One sample of a running (or paused) container's cgroup counters: GET /v1/containers/:id/stats. */
export interface ContainerStats {
  /** CPU time used since it started, in ns (two samples give a rate). */
  cpuUsageNs: number;
  memoryBytes: number;
  memoryLimitBytes?: number;
  pids: number;
  /** Processes the OOM killer killed in its cgroup. */
  oomKills?: number;
  /** Bytes its network namespace received and sent (the host side of its veth; a pod member reports its pod's). */
  netRxBytes?: number;
  netTxBytes?: number;
}

/** The processes of a running container, as `ps` shows them: GET /v1/containers/:id/top. */
export interface ContainerTop {
  titles: string[];
  processes: string[][];
}

/**
 * A command run in a container (Runtime.exec, AgentClient.exec): its stdio, its terminal's
 * size, its exit code. With a TTY, stderr is empty (the terminal merges it into stdout).
 */
export interface ExecProcess {
  stdin: NodeJS.WritableStream;
  stdout: NodeJS.ReadableStream;
  stderr: NodeJS.ReadableStream;
  resize(rows: number, cols: number): void;
  /** Ends the session: the command's terminal hangs up (SIGHUP), or its input ends. */
  abort(): void;
  /** The command's exit code (128+N when a signal ended it). */
  exit: Promise<number>;
}

/**
 * The exec stream: after `101 Switching Protocols` (Upgrade: paas-exec/1) both sides send
 * frames on the connection, a type byte, a 32-bit big-endian length, then the payload (the
 * same frames as the operator CLI's socket, agent/cli-socket.ts).
 *   caller -> agent   I  stdin bytes;  C  stdin ended;  W  "ROWS COLS" the terminal's new size
 *   agent -> caller   O / E  stdout / stderr bytes;  X  the exit code as text, the last frame
 * An upgrade rather than a WebSocket: no dependency, no masking, one framing for both of the
 * agent's local streams; the exit code travels in the stream, so no second call is needed.
 */
export const EXEC_PROTOCOL = "paas-exec/1";

/** One frame (see EXEC_PROTOCOL). */
export function encodeFrame(type: string, payload: Uint8Array | string = ""): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Frames out of a byte stream: feed it chunks; `onBad` when a frame is longer than `max`. */
export function frameReader(onFrame: (type: string, payload: Buffer) => void, onBad: () => void, max: number) {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (len > max) return onBad();
      if (buf.length < 5 + len) return;
      onFrame(String.fromCharCode(buf[0]), buf.subarray(5, 5 + len));
      buf = buf.subarray(5 + len);
    }
  };
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
 *   POST   /v1/images/rebase  RebaseRequest -> ImageInfo          (image's layers above `from`'s, on `onto`'s;
 *                                             400 when image was not built on `from`)
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
 *   PUT    /v1/containers/:id/archive?path=/dir&uid=N&gid=M  body: tar -> { ok: true }  (with uid: into a
 *                                             created or exited container's layer, those owners; without:
 *                                             any state, a running one into its live root, as its user)
 *   GET    /v1/containers/:id/archive?path=/p -> tar               (`cp CONTAINER:/p`: one top entry)
 *   GET    /v1/containers/:id/export       -> tar                  (its whole root filesystem)
 *   GET    /v1/containers/:id/stats        -> ContainerStats       (one sample of its cgroup counters)
 *   GET    /v1/containers/:id/metrics      -> text                 (its own Prometheus metrics, label paas.metrics = "PORT/path")
 *   GET    /v1/metrics                     -> text                 (every app container's figures, Prometheus text format)
 *   GET    /v1/metrics/targets             -> http_sd targets      (the containers with metrics of their own)
 *   GET    /v1/containers/:id/top          -> ContainerTop         (its processes, as ps shows them)
 *   POST   /v1/containers/:id/exec  ExecRequest, Upgrade: paas-exec/1 -> 101, then frames (EXEC_PROTOCOL)
 *   POST   /v1/images/import?name=N&config=JSON  body: tar -> ImageInfo (a root filesystem as a one-layer image)
 *   POST   /v1/containers/:id/start        -> ContainerInfo        (state "running", ip set)
 *   POST   /v1/containers/:id/stop?timeout=10 -> ContainerInfo     (SIGTERM, then SIGKILL)
 *   POST   /v1/containers/:id/kill?signal=HUP -> ContainerInfo      (SIGKILL when none is named)
 *   POST   /v1/containers/:id/wait         -> WaitResult           (blocks until exit)
 *   POST   /v1/containers/:id/health  HealthCheckRequest -> HealthCheckResult (blocks until it answers
 *                                             HTTP on the port from the agent's side and passes its checks,
 *                                             exits, fails a check, or times out)
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
 *   DELETE /v1/cgroups/:team/:app          -> { removed }          (the app's cgroup node and below; 409 while a
 *                                             container of the host is under it; removed: false when none was)
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
  /** `name` := `onto`'s layers + `image`'s above `from`'s, with `image`'s config (see RebaseRequestSchema). */
  rebaseImage(req: RebaseRequest) {
    return this.call<ImageInfo>("POST", "/v1/images/rebase", req);
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
  /** Removes the app's cgroup node (`<root>/<team>/<app>`) and below, once none of its containers is on the host. */
  removeAppCgroup(team: string, app: string) {
    return this.call<{ removed: boolean }>("DELETE", `/v1/cgroups/${encodeURIComponent(team)}/${encodeURIComponent(app)}`);
  }
  volumes(init: RequestInit = {}) {
    return this.call<VolumeInfo[]>("GET", "/v1/volumes", undefined, init);
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
  stats(id: string) {
    return this.call<ContainerStats>("GET", `/v1/containers/${encodeURIComponent(id)}/stats`);
  }
  top(id: string) {
    return this.call<ContainerTop>("GET", `/v1/containers/${encodeURIComponent(id)}/top`);
  }
  /** `cp CONTAINER:PATH`: the files at `path` in the container (any state) as a tar with one top entry. */
  containerArchive(id: string, path: string, signal?: AbortSignal) {
    return this.stream("GET", `/v1/containers/${encodeURIComponent(id)}/archive?${new URLSearchParams({ path })}`, { signal });
  }
  /** The container's whole root filesystem as a tar (`docker export`). */
  exportContainer(id: string, signal?: AbortSignal) {
    return this.stream("GET", `/v1/containers/${encodeURIComponent(id)}/export`, { signal });
  }
  /** A root filesystem tarball as a one-layer image named `name`, with `config` over the defaults. */
  importImage(tar: BodyInit, name: string, config?: Partial<ImageConfig>) {
    const q = new URLSearchParams({ name });
    if (config && Object.keys(config).length) q.set("config", JSON.stringify(config));
    return this.call<ImageInfo>("POST", `/v1/images/import?${q}`, undefined, {
      body: tar,
      headers: { "content-type": "application/x-tar" },
      duplex: "half",
    } as RequestInit);
  }

  /**
   * Runs a command in the running container (`docker exec`), over one upgraded connection
   * (EXEC_PROTOCOL). Resolves once the agent has started it; errors before that (no such
   * container, not running, a bad request) are AgentErrors with the agent's status.
   */
  async exec(id: string, req: ExecRequest): Promise<ExecProcess> {
    // node-only modules, loaded on use: the contract's types are imported by browser code too
    const [http, { PassThrough, Writable }] = await Promise.all([import("node:http"), import("node:stream")]);
    const body = JSON.stringify(req);
    const url = new URL(`/v1/containers/${encodeURIComponent(id)}/exec`, this.baseUrl);
    const request = http.request(url, {
      method: "POST",
      headers: {
        connection: "Upgrade",
        upgrade: EXEC_PROTOCOL,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
    });
    const socket = await new Promise<import("node:net").Socket>((resolve, reject) => {
      request.on("upgrade", (_res, sock, head) => {
        if (head.length) sock.unshift(head);
        resolve(sock);
      });
      request.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => {
          let msg = `agent answered ${res.statusCode}`;
          try {
            msg = (JSON.parse(text) as { error?: string }).error ?? msg;
          } catch {}
          reject(new AgentError(msg, res.statusCode ?? 500));
        });
      });
      request.on("error", (err) => reject(new AgentError(`cannot reach the host agent at ${this.baseUrl} (${err.message}); is it running?`, 503)));
      request.end(body);
    });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let settle!: (code: number) => void;
    const exit = new Promise<number>((r) => (settle = r));
    const finish = (code: number) => {
      stdout.end();
      stderr.end();
      settle(code);
    };
    socket.on(
      "data",
      frameReader(
        (type, payload) => {
          if (type === "O") stdout.write(payload);
          else if (type === "E") stderr.write(payload);
          else if (type === "X") finish(Number(payload.toString()) || 0), socket.end();
        },
        () => socket.destroy(),
        1 << 20,
      ),
    );
    socket.on("error", () => {});
    socket.on("close", () => finish(255)); // hung up before an exit code: as ssh, 255
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (socket.destroyed) return cb();
        socket.write(encodeFrame("I", chunk), () => cb());
      },
      final(cb) {
        if (!socket.destroyed) socket.write(encodeFrame("C"));
        cb();
      },
    });
    return {
      stdin,
      stdout,
      stderr,
      resize: (rows, cols) => void (socket.destroyed || socket.write(encodeFrame("W", `${rows} ${cols}`))),
      abort: () => void socket.destroy(),
      exit,
    };
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
