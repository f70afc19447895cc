/** metrics.app: the charts of the app's page (server/metrics/charts.ts); "read" on the app. */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { appName } from "@paas/shared";
import { authorizeApp } from "../authz.ts";
import { appCharts } from "../metrics/charts.ts";
import { PrometheusError } from "../metrics/prometheus.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

export const metricsRouter = createTRPCRouter({
  app: protectedProcedure
    .input(z.object({ app: appName, minutes: z.number().int().min(5).max(24 * 60).default(30) }))
    .query(async ({ ctx, input }) => {
      await authorizeApp(ctx.principal, input.app, "read");
      try {
        return await appCharts(input.app, input.minutes);
      } catch (err) {
        if (err instanceof PrometheusError) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: err.message });
        throw err;
      }
    }),
});
