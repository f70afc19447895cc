/** The API's root router; `AppRouter` is the type the CLI's client imports. */
import { appsRouter } from "./apps.ts";
import { auditRouter } from "./audit.ts";
import { authRouter } from "./auth.ts";
import { buildsRouter } from "./builds.ts";
import { configRouter } from "./config.ts";
import { domainsRouter } from "./domains.ts";
import { drainsRouter } from "./drains.ts";
import { metricsRouter } from "./metrics.ts";
import { logsRouter } from "./logs.ts";
import { psRouter } from "./ps.ts";
import { quotasRouter } from "./quotas.ts";
import { backupsRouter } from "./backups.ts";
import { releasesRouter } from "./releases.ts";
import { sidecarsRouter } from "./sidecars.ts";
import { teamsRouter } from "./teams.ts";
import { volumesRouter } from "./volumes.ts";
import { tokensRouter } from "./tokens.ts";
import { invitationsRouter } from "./invitations.ts";
import { createCallerFactory, createTRPCRouter } from "../trpc.ts";

export const appRouter = createTRPCRouter({
  auth: authRouter,
  apps: appsRouter,
  audit: auditRouter,
  backups: backupsRouter,
  builds: buildsRouter,
  config: configRouter,
  domains: domainsRouter,
  drains: drainsRouter,
  metrics: metricsRouter,
  logs: logsRouter,
  ps: psRouter,
  quotas: quotasRouter,
  releases: releasesRouter,
  sidecars: sidecarsRouter,
  teams: teamsRouter,
  volumes: volumesRouter,
  tokens: tokensRouter,
  invitations: invitationsRouter,
});

export type AppRouter = typeof appRouter;

export const createCaller = createCallerFactory(appRouter);
