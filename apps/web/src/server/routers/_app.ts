/** The API's root router; `AppRouter` is the type the CLI's client imports. */
import { appsRouter } from "./apps.ts";
import { authRouter } from "./auth.ts";
import { buildsRouter } from "./builds.ts";
import { configRouter } from "./config.ts";
import { releasesRouter } from "./releases.ts";
import { teamsRouter } from "./teams.ts";
import { createCallerFactory, createTRPCRouter } from "../trpc.ts";

export const appRouter = createTRPCRouter({
  auth: authRouter,
  apps: appsRouter,
  builds: buildsRouter,
  config: configRouter,
  releases: releasesRouter,
  teams: teamsRouter,
});

export type AppRouter = typeof appRouter;

export const createCaller = createCallerFactory(appRouter);
