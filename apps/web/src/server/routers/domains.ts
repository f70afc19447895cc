/**
 * Custom domains and their certificates: `paas domains`, `domains:add HOST`, `domains:remove
 * HOST`, `certs:add CERT KEY`. A host name serves one app on the whole platform; the platform's
 * own domain (*.PAAS_DOMAIN) is not anyone's to add. Each change is published to the router at
 * once by a "routes" job (the worker's route.ts is the one writer of the routing table), run
 * under the app's deploy lock so a deploy switching replicas meanwhile cannot leave a domain
 * on the old ones. A change the router did not get is undone: the domains stay as they were.
 * A certificate's PEM goes to Redis (@paas/db/domains), where every router fetches it; the
 * API keeps no copy on its disk.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db, type Domain } from "@paas/db";
import { pruneCerts, storeCert, storedCert } from "@paas/db/domains";
import { assertDomainQuota } from "@paas/db/quotas";
import { appName, config, customDomainName, platformDomainProblem } from "@paas/shared";
import { CertificateError, checkCertificate } from "@paas/shared/tls";
import type { Principal } from "../auth.ts";
import { authorizeApp, mayReadApp } from "../authz.ts";
import { runDeploy } from "../deploys.ts";
import { redis } from "../redis.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

/** A PEM file is a few KB; a long chain stays far below this. */
const PEM_MAX = 64 * 1024;

const httpsUrl = (host: string) => {
  const port = config().httpsPort;
  return `https://${host}${port === 443 ? "" : `:${port}`}/`;
};

/** Publishes the app's routes again (a "routes" job); null when done, else why not. */
async function publish(app: { id: string }): Promise<string | null> {
  let r = await runDeploy({ kind: "routes", appId: app.id });
  // The job is idempotent: one that failed (a worker's jobs process that went away) is tried once more.
  if (!r.ok && !r.stillRunning) r = await runDeploy({ kind: "routes", appId: app.id });
  if (r.ok) return null;
  // Still queued or running: once our undo is written, another run publishes what is left.
  if (r.stillRunning) void runDeploy({ kind: "routes", appId: app.id }).catch(() => {});
  return r.error ?? "the routes job failed";
}

/** Certificates no domain names go; the change is done either way (the next prune takes what this one left). */
const prune = () => pruneCerts(redis()).catch((err: Error) => console.error(`domains: removing certificates no domain names: ${err.message}`));

const notPublished = (what: string, why: string) =>
  new TRPCError({
    code: "PRECONDITION_FAILED",
    message: `${what}: the router's table could not be updated (${why}). Nothing changed; try again once the worker runs (./infra/up starts it)`,
  });

/** Says who has `hostname`, naming the app only to those who may see it. */
async function taken(p: Principal, hostname: string, holder: { name: string; team: { name: string } }): Promise<TRPCError> {
  const message = (await mayReadApp(p, holder.name))
    ? `${hostname} is taken by app ${holder.name} (team ${holder.team.name}): remove it there first with \`paas domains:remove ${hostname} -a ${holder.name}\``
    : `${hostname} is taken by another app: a host name serves one app only; if the domain is yours, ask the platform's operator`;
  return new TRPCError({ code: "CONFLICT", message });
}

const view = (d: Domain) => ({
  hostname: d.hostname,
  url: httpsUrl(d.hostname),
  createdAt: d.createdAt,
  cert: d.certSha256 ? { expiresAt: d.certExpiresAt, issuer: d.certIssuer } : null,
});

export const domainsRouter = createTRPCRouter({
  /** The app's custom domains and their certificates (none: the router's default one). */
  list: protectedProcedure.input(z.object({ app: appName })).query(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "read");
    const domains = await db.domain.findMany({ where: { appId: app.id }, orderBy: { hostname: "asc" } });
    return domains.map(view);
  }),

  add: protectedProcedure.input(z.object({ app: appName, hostname: customDomainName })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "configure");
    const { hostname } = input;
    const own = platformDomainProblem(hostname, config().domain);
    if (own) throw new TRPCError({ code: "BAD_REQUEST", message: own });
    const holder = await db.domain.findUnique({ where: { hostname }, include: { app: { include: { team: true } } } });
    if (holder?.appId === app.id) throw new TRPCError({ code: "CONFLICT", message: `${hostname} is a domain of ${app.name} already: see \`paas domains -a ${app.name}\`` });
    if (holder) throw await taken(ctx.principal, hostname, holder.app);
    // Count and insert in one transaction, so two adds cannot both pass the quota.
    const domain = await db
      .$transaction(async (tx) => {
        await assertDomainQuota(tx, app.team);
        return tx.domain.create({ data: { hostname, appId: app.id } });
      })
      .catch(async (err: unknown) => {
        if ((err as { code?: string }).code !== "P2002") throw err;
        // Added meanwhile by another request.
        const now = await db.domain.findUnique({ where: { hostname }, include: { app: { include: { team: true } } } });
        throw now ? await taken(ctx.principal, hostname, now.app) : err;
      });
    const failed = await publish(app);
    if (failed) {
      await db.domain.delete({ where: { id: domain.id } });
      throw notPublished(`${hostname} was not added`, failed);
    }
    return { ...view(domain), app: app.name };
  }),

  remove: protectedProcedure.input(z.object({ app: appName, hostname: customDomainName })).mutation(async ({ ctx, input }) => {
    const app = await authorizeApp(ctx.principal, input.app, "configure");
    const domain = await db.domain.findFirst({ where: { hostname: input.hostname, appId: app.id } });
    if (!domain) throw new TRPCError({ code: "NOT_FOUND", message: `${input.hostname} is not a domain of ${app.name}: see \`paas domains -a ${app.name}\`` });
    await db.domain.delete({ where: { id: domain.id } });
    const failed = await publish(app);
    if (failed) {
      await db.domain.create({ data: domain });
      throw notPublished(`${domain.hostname} was not removed`, failed);
    }
    // The router has let go of it: its certificate goes too, unless another domain has it.
    await prune();
    return { hostname: domain.hostname, app: app.name };
  }),

  /**
   * A certificate and its key (PEM) for the app's domains it covers; a newer one replaces the
   * old. Checked whole before anything is written (certs:add says what is wrong).
   */
  addCert: protectedProcedure
    .input(z.object({ app: appName, cert: z.string().min(1).max(PEM_MAX), key: z.string().min(1).max(PEM_MAX) }))
    .mutation(async ({ ctx, input }) => {
      const app = await authorizeApp(ctx.principal, input.app, "configure");
      const domains = await db.domain.findMany({ where: { appId: app.id }, orderBy: { hostname: "asc" } });
      let checked;
      try {
        checked = checkCertificate(input.cert, input.key, domains.map((d) => d.hostname));
      } catch (err) {
        if (err instanceof CertificateError) throw new TRPCError({ code: "BAD_REQUEST", message: `certificate refused: ${err.message}` });
        throw err;
      }
      const covered = domains.filter((d) => checked.covers.includes(d.hostname));
      // The certificates they had, kept to put back should the router not get the new one.
      const before = new Map<string, string>();
      for (const d of covered) {
        const pem = d.certSha256 ? await storedCert(redis(), d.certSha256) : null;
        if (pem !== null) before.set(d.certSha256!, pem);
      }
      const undo = async () => {
        for (const d of covered) {
          await db.domain.update({ where: { id: d.id }, data: { certSha256: d.certSha256, certExpiresAt: d.certExpiresAt, certIssuer: d.certIssuer } });
        }
        for (const pem of before.values()) await storeCert(redis(), pem);
        await pruneCerts(redis());
      };
      try {
        // The rows first, then the PEM: a prune meanwhile sees it named and leaves it.
        await db.domain.updateMany({
          where: { id: { in: covered.map((d) => d.id) } },
          data: { certSha256: checked.sha256, certExpiresAt: checked.expiresAt, certIssuer: checked.issuer },
        });
        await storeCert(redis(), checked.pem);
      } catch (err) {
        await undo();
        throw err;
      }
      const failed = await publish(app);
      if (failed) {
        await undo();
        throw notPublished("the certificate was not added", failed);
      }
      // The router serves the new one: one no domain names any more goes.
      await prune();
      return {
        app: app.name,
        domains: checked.covers,
        names: checked.names,
        expiresAt: checked.expiresAt,
        issuer: checked.issuer,
        uncovered: domains.map((d) => d.hostname).filter((h) => !checked.covers.includes(h)),
      };
    }),
});
