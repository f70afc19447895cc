/**
 * The sidecar kinds registry: what `paas sidecars:attach KIND` starts beside every replica.
 * A kind turns what the user asked (SidecarRequest: options of the CLI or the dashboard) into
 * a SidecarSpec (image, command, env, the app volumes it shares, its network, its memory),
 * which is stored on the Sidecar row and made into one container per replica by pods.ts.
 *
 * To add a kind (logging, metrics, backup): add an entry to KINDS with a `resolve` that returns
 * its spec (its image is an ordinary image of the platform, e.g. made at set-up as a stack),
 * and, when each replica's container needs something of its own (the replica's name, a
 * host file of it), a `perReplica` that returns ContainerSpec fields added to that container.
 * A KIND not in the registry is a custom sidecar and needs `--image`. Every replica has its own
 * log directory volume at /var/log/app from its start (volumes/mounts.ts logVolumeName): a
 * logging kind mounts it in `perReplica`, so attaching it restarts nothing.
 */
import type { BindMount, ContainerSpec } from "@paas/shared";
import { SidecarKindError } from "./kind-error.ts";
import { loggingKind } from "./logging.ts";
import { metricsKind } from "./metrics.ts";

/** What the user asked for (validated at the API's edge; kinds may refuse more). */
export interface SidecarRequest {
  kind: string;
  image?: string;
  /** Command overriding the image's. */
  cmd?: string[];
  /** App volumes (by their name in `paas volumes`) mounted in the sidecar at `path`. */
  volumes?: { name: string; path: string; readOnly?: boolean }[];
  /** "app": joins the replica's network namespace (localhost is the app's); "none": loopback only. */
  net?: "app" | "none";
  env?: Record<string, string>;
  memoryMb?: number;
}

/** What each replica's container of the sidecar is made from (stored as JSON on the Sidecar row). */
export interface SidecarSpec {
  image: string;
  cmd?: string[];
  env: Record<string, string>;
  volumes: { name: string; path: string; readOnly?: boolean }[];
  binds?: BindMount[];
  net: "app" | "none";
  /** The container's memory limit; counted toward the team's memory quota per replica. */
  memoryMb: number;
}

/** The app and replica a container of the sidecar is made for. */
export interface ReplicaContext {
  app: { name: string; team: { name: string } };
  processType: string;
  number: number;
  /** The replica's container on its host. */
  runtimeId: string;
  release: number;
}

export interface SidecarKind {
  /** One line: what it does (`paas sidecars:attach --help`, errors). */
  description: string;
  /** The spec, or a thrown SidecarKindError saying what to give instead. */
  resolve(req: SidecarRequest, app: { name: string }): SidecarSpec;
  /** Fields added to each replica's container of it (beyond the spec). */
  perReplica?(spec: SidecarSpec, replica: ReplicaContext): Partial<Pick<ContainerSpec, "env" | "binds" | "volumes" | "labels">>;
}

export { SidecarKindError };

export const DEFAULT_SIDECAR_MEMORY_MB = 64;

/** A custom sidecar: the user's image, as asked. */
export const customKind: SidecarKind = {
  description: "a custom sidecar: --image IMAGE [--volume NAME:/path] [--net app|none] [--env K=V] [--memory 64M]",
  resolve(req) {
    if (!req.image) throw new SidecarKindError(`"${req.kind}" is not a kind of sidecar the platform has (${Object.keys(KINDS).join(", ") || "none yet"}); attach a custom one with --image IMAGE`);
    return {
      image: req.image,
      ...(req.cmd?.length ? { cmd: req.cmd } : {}),
      env: req.env ?? {},
      volumes: req.volumes ?? [],
      net: req.net ?? "app",
      memoryMb: req.memoryMb ?? DEFAULT_SIDECAR_MEMORY_MB,
    };
  },
};

/** The platform's kinds by name, each in a module of its own. */
export const KINDS: Record<string, SidecarKind> = { logging: loggingKind, metrics: metricsKind };

/** The kind for `req`: a registered one, else the custom kind (which needs --image). */
export function kindOf(name: string): SidecarKind {
  return KINDS[name] ?? customKind;
}

/** The spec for `req`, or a SidecarKindError. */
export function resolveSidecar(req: SidecarRequest, app: { name: string }): SidecarSpec {
  return kindOf(req.kind).resolve(req, app);
}
