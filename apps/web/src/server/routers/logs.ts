/**
 * An app's log: `paas logs` (recent lines with filters). The live tail is the SSE/NDJSON route
 * (server/logs/events.ts); drains are routers/drains.ts.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { appName } from "@paas/shared";
import { parseSince } from "@paas/shared/app-log";
import { authorizeApp } from "../authz.ts";
import { recentLines } from "../logs/app-logs.ts";
import { createTRPCRouter, protectedProcedure } from "../trpc.ts";

export const logsRouter = createTRPCRouter({
  recent: protectedProcedure
    .input(
      z.object({
        app: appName,
        n: z.number().int().min(1).max(10_000).default(100),
        since: z.string().max(20).optional(),
        type: z.string().max(64).optional(),
        grep: z.string().max(500).optional(),
        src: z.enum(["app", "platform"]).optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      await authorizeApp(ctx.principal, input.app, "read");
      const sinceMs = input.since ? parseSince(input.since) : undefined;
      if (input.since && sinceMs === undefined) throw new TRPCError({ code: "BAD_REQUEST", message: `--since ${input.since}: say a duration like 30s, 10m, 2h or 1d` });
      return recentLines(input.app, { n: input.n, sinceMs, type: input.type, grep: input.grep, src: input.src });
    }),
});
