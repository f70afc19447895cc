/** Apps: list, create, info, settings, destroy. */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "@paas/db";
import { assertAppQuota } from "@paas/db/quotas";
import { appName, branchName, config, egressAllowText, newAppName, teamName } from "@paas/shared";
import { runDeploy } from "../deploys.ts";
import { appAbilities, authorizeApp, authorizeTeam, visibleTeamIds } from "../authz.ts";
import { ensureRepo, setRepoHead } from "../git/repos.ts";
import { destroyApp, DestroyError } from "../destroy-app.ts";
import { destroyPreview, PreviewError, previewUrl } from "../previews.ts";
import { replicaCrashes } from "../replica-crashes.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

/** An app's settings as apps.update answers them. */
const settingsOf = (u: { name: string; deployBranch: string; previews: boolean; buildMode: string; buildTimeoutSeconds: number | null }) => ({
  name: u.name,
  deployBranch: u.deployBranch,
  previews: u.previews,
  buildMode: u.buildMode,
  buildTimeoutSeconds: u.buildTimeoutSeconds,
});

export const appsRouter = createTRPCRouter({
  list: protectedProcedure.query(async ({ ctx }) => {
    const teamIds = await visibleTeamIds(ctx.principal);
    const apps = await db.app.findMany({
      where: { teamId: { in: teamIds } },
      orderBy: { name: "asc" },
      include: {
        team: true,
        releases: { orderBy: { version: "desc" }, take: 1 },
        builds: { orderBy: { createdAt: "desc" }, take: 1 },
      },
    });
    return apps.map((a) => ({
      name: a.name,
      team: a.team.name,
      url: config().appUrl(a.name),
      createdAt: a.createdAt,
      latestRelease: a.releases[0] ? { version: a.releases[0].version, status: a.releases[0].status } : null,
      latestBuild: a.builds[0] ? { id: a.builds[0].id, status: a.builds[0].status } : null,
    }));
  }),

  create: protectedProcedure
    .input(z.object({ name: newAppName, team: teamName.optional() }))
    .mutation(async ({ ctx, input }) => {
      let team;
      if (input.team) {
        team = await authorizeTeam(ctx.principal, input.team, "create-app");
      } else {
        const ids = await visibleTeamIds(ctx.principal);
        const teams = await db.team.findMany({ where: { id: { in: ids } }, orderBy: { name: "asc" } });
        if (teams.length === 0) {
          throw new TRPCError({ code: "PRECONDITION_FAILED", message: "you are not a member of any team: ask an admin to add you" });
        }
        if (teams.length > 1) {
          throw new TRPCError({
            code: "BAD_REQUEST",
            message: `you are in several teams (${teams.map((t) => t.name).join(", ")}): choose one with --team`,
          });
        }
        team = await authorizeTeam(ctx.principal, teams[0].name, "create-app");
      }
      const teamRef = team;
      if (await db.app.findUnique({ where: { name: input.name } })) {
        throw new TRPCError({ code: "CONFLICT", message: `the app name "${input.name}" is taken: choose another` });
      }
      // Count and insert in one transaction, so two creates cannot both pass the quota.
      const app = await db
        .$transaction(async (tx) => {
          await assertAppQuota(tx, teamRef);
          return tx.app.create({ data: { name: input.name, teamId: teamRef.id } });
        })
        .catch((err: unknown) => {
          // Lost a race with another create of the same name.
          if ((err as { code?: string }).code === "P2002") {
            throw new TRPCError({ code: "CONFLICT", message: `the app name "${input.name}" is taken: choose another` });
          }
          throw err;
        });
      try {
        await ensureRepo(app.name);
      } catch (err) {
        // Without its repository the app cannot be deployed: undo, so a retry starts clean.
        await db.app.delete({ where: { id: app.id } }).catch(() => {});
        throw new TRPCError({
          code: "INTERNAL_SERVER_ERROR",
          message: `could not create the git repository for "${app.name}": ${(err as Error).message}`,
        });
      }
      return { name: app.name, team: teamRef.name, url: config().appUrl(app.name) };
    }),

  info: protectedProcedure.input(z.object({ name: appName })).query(async ({ ctx, input }) => {
    const found = await authorizeApp(ctx.principal, input.name, "read");
    const app = await db.app.findUniqueOrThrow({
      where: { id: found.id },
      include: {
        team: true,
        previewOf: { select: { name: true } },
        releases: { orderBy: { version: "desc" }, take: 1 },
        builds: { orderBy: { createdAt: "desc" }, take: 1 },
        formations: { orderBy: { processType: "asc" } },
        containers: {
          where: { state: { not: "stopped" } },
          orderBy: { createdAt: "asc" },
          include: { host: true, release: { select: { version: true } } },
        },
      },
    });
    const r = app.releases[0];
    const b = app.builds[0];
    return {
      name: app.name,
      team: app.team.name,
      url: config().appUrl(app.name),
      deployBranch: app.deployBranch,
      settings: { previews: app.previews, buildMode: app.buildMode, buildTimeoutSeconds: app.buildTimeoutSeconds, egress: app.egress, egressAllow: app.egressAllow },
      previewOf: app.previewOf?.name ?? null,
      createdAt: app.createdAt,
      latestRelease: r
        ? { version: r.version, status: r.status, imageRef: r.imageRef, description: r.description, createdAt: r.createdAt }
        : null,
      latestBuild: b ? { id: b.id, status: b.status, commit: b.commit, createdAt: b.createdAt } : null,
      formation: app.formations.map((f) => ({ processType: f.processType, quantity: f.quantity, memoryMb: f.memoryMb })),
      containers: app.containers.map((c) => ({
        id: c.id,
        processType: c.processType,
        state: c.state,
        address: c.address,
        host: c.host.name,
        release: c.release.version,
        startedAt: c.startedAt,
      })),
      crashes: await replicaCrashes(app.id),
      // What the caller may change here (authz.ts), so pages offer no form the server refuses.
      can: await appAbilities(ctx.principal, app),
    };
  }),

  /** Per-app settings: the deploy branch, preview apps, what a push does while a build runs, the build time limit. */
  update: protectedProcedure
    .input(
      z.object({
        name: appName,
        // The branch whose pushes deploy; the running release stays until the next push of it.
        deployBranch: branchName.optional(),
        previews: z.boolean().optional(),
        buildMode: z.enum(["queue", "supersede"]).optional(),
        // null: back to the platform default (PAAS_BUILD_TIMEOUT_SECONDS, else 15 min).
        buildTimeoutSeconds: z.number().int().min(1).max(24 * 3600).nullable().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.name, "configure");
      const { name: _n, ...data } = input;
      const branch = data.deployBranch;
      if (branch !== undefined && branch !== app.deployBranch && app.previewOfId) {
        throw new TRPCError({ code: "BAD_REQUEST", message: `${app.name} is a preview app: it deploys its branch ${app.deployBranch}; change the deploy branch of the app it previews` });
      }
      const u = await db.app.update({ where: { id: app.id }, data });
      if (branch === undefined) return { ...settingsOf(u), removedPreview: null };
      await setRepoHead(u.name, u.deployBranch);
      // The deploy branch's pushes deploy the app itself from now on: a preview app that branch
      // made serves a copy nobody updates, so it goes (after the change: a push meanwhile cannot
      // make it again). Checked even when the branch was already the deploy branch, so running
      // the command again finishes a removal that failed.
      let removedPreview: { name: string; url: string } | null = null;
      const preview = await db.app.findFirst({ where: { previewOfId: u.id, deployBranch: u.deployBranch } });
      if (preview) {
        try {
          const url = previewUrl(preview.previewBranch ?? u.deployBranch, u.name);
          await destroyPreview(u.id, u.deployBranch);
          removedPreview = { name: preview.name, url };
        } catch (err) {
          if (!(err instanceof PreviewError)) throw err;
          throw new TRPCError({
            code: "INTERNAL_SERVER_ERROR",
            message: `${u.name} deploys from ${u.deployBranch} now, but its preview app ${preview.name} of that branch was not removed (${err.message}): run the same command again to finish`,
          });
        }
      }
      return { ...settingsOf(u), removedPreview };
    }),

  /**
   * The app's outbound network: on (anywhere beyond the host), off, or `allow` (limited to
   * those destinations, @paas/shared egress.ts). A change deploys a new release of the current
   * image whose replicas start with it, and is kept only if that release serves (zero downtime,
   * as a config change); with no release yet it applies to the first deploy.
   */
  egress: protectedProcedure
    .input(
      z
        .object({ name: appName, egress: z.enum(["on", "off"]).optional(), allow: egressAllowText.optional() })
        .refine((i) => (i.egress === undefined) !== (i.allow === undefined), { message: "give either egress (on or off) or an allow list, not both" }),
    )
    .mutation(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.name, "configure");
      const next = input.allow !== undefined ? { egress: "limited" as const, egressAllow: input.allow } : { egress: input.egress!, egressAllow: "" };
      const shown = next.egress === "limited" ? `limited to ${next.egressAllow}` : next.egress;
      if (app.egress === next.egress && app.egressAllow === next.egressAllow) {
        return { name: app.name, ...next, release: null, message: `outbound network is ${shown} already: nothing to do` };
      }
      const r = await runDeploy({ kind: "egress", appId: app.id, ...next, description: `Outbound network ${shown}` });
      if (!r.ok) {
        throw new TRPCError({
          code: "PRECONDITION_FAILED",
          message: r.stillRunning
            ? r.error!
            : `the outbound network was not changed${r.version ? ` (release v${r.version} failed)` : ""}: ${r.error}. The setting and the running release are as they were`,
        });
      }
      if (!r.version) return { name: app.name, ...next, release: null, message: `outbound network ${shown}: no release yet, it applies from the next push` };
      return { name: app.name, ...next, release: r.version, message: `outbound network ${shown}: released v${r.version}` };
    }),

  /**
   * Destroys the app, its preview apps and all they have (replicas, routes, images, build
   * cache, repository, cgroups, logs, rows); the name is free again. Team admins and operators
   * only (authz.ts "delete"); `confirm` must repeat the name, else nothing changes.
   */
  destroy: protectedProcedure.input(z.object({ name: appName, confirm: z.string() })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.name, "delete");
    if (input.confirm !== app.name) {
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: `destroying ${app.name} removes it and everything it has for good: confirm with --confirm ${app.name}`,
      });
    }
    try {
      await destroyApp(app.id);
    } catch (err) {
      if (!(err instanceof DestroyError)) throw err;
      throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `destroying ${app.name} failed (${err.message}); run it again to finish` });
    }
    return { name: app.name, destroyed: true };
  }),
});
