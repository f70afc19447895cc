/** `paas quotas -t T`, `quotas:set NAME=VALUE ... --team T` (operators), `audit -t T [-n N]` (team admins). */
import type { Command } from "commander";
import { splitOutcome } from "@paas/shared/audit-outcome";
import { formatCpus, formatMemory, parseQuotaArgs, SizeError } from "@paas/shared/sizes";
import { CliError } from "./credentials.ts";
import { heading, json, pc, table, when } from "./output.ts";
import { jsonOption, type CommandKit } from "./kit.ts";

type Limits = Record<"apps" | "replicas" | "memoryMb" | "cpuMillis" | "storageMb" | "concurrentBuilds" | "buildMinutesPerDay" | "customDomains" | "drainsPerApp" | "pids", number>;

/** Each limit as `quotas:set` names it, and how its figures read. */
const ROWS: [keyof Limits, string, (n: number) => string][] = [
  ["apps", "apps", String],
  ["replicas", "replicas", String],
  ["memoryMb", "memory", formatMemory],
  ["cpuMillis", "cpus", formatCpus],
  ["storageMb", "storage", formatMemory],
  ["concurrentBuilds", "builds", String],
  ["buildMinutesPerDay", "build-minutes", String],
  ["customDomains", "domains", String],
  // Per app: its use is the team's app with the most drains.
  ["drainsPerApp", "drains", String],
  ["pids", "pids", String],
];

function printQuotas(q: { team: string; limits: Limits; usage: Partial<Limits>; over: string[] }) {
  console.log(heading(`${q.team} Quotas`));
  console.log(
    table(
      ["QUOTA", "USED", "LIMIT", ""],
      ROWS.map(([f, name, fmt]) => {
        const used = q.usage[f];
        const over = q.over.includes(f);
        return [name, used === undefined ? pc.dim("(kernel)") : fmt(used), fmt(q.limits[f]), over ? pc.red("over the quota: no more until below it") : ""];
      }),
    ),
  );
}

export function quotaCommands(program: Command, kit: CommandKit): void {
  const { api, run } = kit;

  program
    .command("quotas")
    .description("a team's quotas with its current use")
    .requiredOption("-t, --team <team>", "the team")
    .addOption(jsonOption())
    .action(
      run(async (opts: { team: string; json?: boolean }) => {
        const q = await api().quotas.get.query({ team: opts.team });
        if (opts.json) return json(q);
        printQuotas(q);
      }),
    );

  program
    .command("quotas:set")
    .description("set a team's quotas (platform operators): apps=5 replicas=10 memory=4G cpus=4 storage=10G builds=2 build-minutes=120 domains=20 drains=5 (per app) pids=4096")
    .argument("<limits...>", "NAME=VALUE pairs")
    .requiredOption("-t, --team <team>", "the team")
    .addOption(jsonOption())
    .action(
      run(async (args: string[], opts: { team: string; json?: boolean }) => {
        let limits;
        try {
          limits = parseQuotaArgs(args);
        } catch (err) {
          if (err instanceof SizeError) throw new CliError(err.message);
          throw err;
        }
        const q = await api().quotas.set.mutate({ team: opts.team, limits });
        if (opts.json) return json(q);
        console.log(`Set ${Object.keys(limits).length === 1 ? "the quota" : "the quotas"} of team ${pc.bold(q.team)}.`);
        printQuotas(q);
        if (q.warning) console.error(pc.yellow(`warning: ${q.warning}`));
      }),
    );

  program
    .command("audit")
    .description("a team's audit log: who changed what, when, from where (team admins)")
    .requiredOption("-t, --team <team>", "the team")
    .option("-n, --num <n>", "how many events, newest first", "50")
    .addOption(jsonOption())
    .action(
      run(async (opts: { team: string; num: string; json?: boolean }) => {
        if (!/^\d+$/.test(opts.num) || Number(opts.num) < 1 || Number(opts.num) > 1000) throw new CliError(`-n ${opts.num}: give a whole number from 1 to 1000`);
        const events = await api().audit.list.query({ team: opts.team, limit: Number(opts.num) });
        if (opts.json) return json(events);
        if (!events.length) return console.log(`No changes recorded for team ${opts.team} yet.`);
        console.log(
          table(
            ["WHEN", "WHO", "ACTION", "APP", "OUTCOME", "FROM", "TOKEN", "DETAILS", "WHY"],
            events.map((e) => {
              const { kind, why } = splitOutcome(e.outcome);
              return [when(e.at), e.actor, e.action, e.app ?? "", kind === "denied" ? pc.red(kind) : kind === "failed" ? pc.yellow(kind) : kind, e.address ?? "", e.token ?? "", JSON.stringify(e.details), why];
            }),
          ),
        );
      }),
    );
}
