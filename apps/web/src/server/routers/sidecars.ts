/**
 * An app's sidecars: `paas sidecars`, `sidecars:attach KIND`, `sidecars:detach KIND` and the
 * dashboard's sidecars panel. Input is checked here; the change itself is a deploy job of kind
 * "sidecars" (worker/src/sidecars/attach.ts) run under the app's deploy lock: the kind is
 * resolved by the worker's kinds registry, the team's memory quota checked (sidecars count per
 * replica), the Sidecar row written and every running replica given its container. The app's
 * own containers are never restarted; a change that fails changes nothing.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { AgentClient, appName, config, type ContainerInfo } from "@paas/shared";
import { memoryMb } from "@paas/shared/sizes";
import { authorizeApp } from "../authz.ts";
import { deployFailure, runDeploy } from "../deploys.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

export const sidecarKind = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "a sidecar kind is lowercase letters, digits and - (at most 31), e.g. logging or my-proxy");
export const volumeName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, "a volume name is lowercase letters, digits and - (at most 31), e.g. data");
const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._\/-]*$/, "a path in the container is absolute, e.g. /data (letters, digits, . _ - /)")
  .refine((p) => !p.split("/").some((x) => x === ".." || x === "."), "a path may not contain . or ..")
  .refine((p) => p !== "/", "a volume cannot be mounted at /");

const attachInput = z.object({
  app: appName,
  kind: sidecarKind,
  image: z.string().min(1).max(255).regex(/^[A-Za-z0-9][A-Za-z0-9._\/:@-]*$/, "an image is a name like stack/busybox or myimage:tag").optional(),
  cmd: z.array(z.string().max(4096)).max(64).optional(),
  volumes: z.array(z.object({ name: volumeName, path: absolutePath, readOnly: z.boolean().optional() })).max(16).optional(),
  net: z.enum(["app", "none"]).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names are letters, digits and _"), z.string().max(32768)).optional(),
  memoryMb: memoryMb.optional(),
});

/** The sidecar containers of the app on every host (empty for a host that does not answer). */
async function sidecarContainers(app: string): Promise<ContainerInfo[]> {
  const hosts = await db.host.findMany();
  const lists = await Promise.all(hosts.map((h) => new AgentClient(h.agentUrl, config().agentToken).containers().catch(() => [] as ContainerInfo[])));
  return lists.flat().filter((c) => c.labels["paas.app"] === app && c.labels["paas.sidecar"]);
}

async function change(appId: string, data: Parameters<typeof runDeploy>[0] & { kind: "sidecars" }) {
  const r = await runDeploy(data);
  if (!r.ok) throw deployFailure(r, "the sidecar change failed");
  return { message: r.log[0] ?? "done", appId };
}

export const sidecarsRouter = createTRPCRouter({
  /** Each sidecar of the app and its container on each replica (state, restarts). */
  list: protectedProcedure.input(z.object({ app: appName })).query(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "read");
    const rows = await db.sidecar.findMany({ where: { appId: app.id }, orderBy: { createdAt: "asc" } });
    const containers = await sidecarContainers(app.name);
    return rows.map((s) => {
      const spec = JSON.parse(s.spec) as { net?: string; volumes?: { name: string; path: string }[]; cmd?: string[] };
      return {
        kind: s.kind,
        image: s.image,
        memoryMb: s.memoryMb,
        net: spec.net ?? "app",
        volumes: spec.volumes ?? [],
        cmd: spec.cmd ?? null,
        attachedAt: s.updatedAt,
        replicas: containers
          .filter((c) => c.labels["paas.sidecar"] === s.kind)
          .map((c) => ({ replica: c.labels["paas.replica"] ?? "", id: c.id, state: c.state, restarts: c.restartCount ?? 0, startedAt: c.startedAt ?? null }))
          .sort((a, b) => a.replica.localeCompare(b.replica)),
      };
    });
  }),

  /** sidecars:attach KIND [--image ...]: attaches (or swaps) it on every replica, live. */
  attach: protectedProcedure.input(attachInput).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "deploy");
    const { app: _, ...request } = input;
    return change(app.id, { kind: "sidecars", appId: app.id, change: { action: "attach", request } });
  }),

  /** sidecars:detach KIND: its containers go; the app's stay as they are. */
  detach: protectedProcedure.input(z.object({ app: appName, kind: sidecarKind })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "deploy");
    if (!(await db.sidecar.findUnique({ where: { appId_kind: { appId: app.id, kind: input.kind } } }))) {
      throw new TRPCError({ code: "NOT_FOUND", message: `${app.name} has no sidecar ${input.kind}: see \`paas sidecars -a ${app.name}\`` });
    }
    return change(app.id, { kind: "sidecars", appId: app.id, change: { action: "detach", kind: input.kind } });
  }),
});
