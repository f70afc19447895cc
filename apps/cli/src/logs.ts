/** `paas logs [-t] [--since 10m] [--type web] [--grep X] [-n N] [--json]`: an app's log. */
import { Option, type Command } from "commander";
import { formatLine, parseSince, speaker, type AppLogEntry } from "@paas/shared/app-log";
import { LineSplitter } from "@paas/shared/build-log";
import { CliError, resolveCredentials } from "./credentials.ts";
import { resolveApp } from "./git.ts";
import { pc } from "./output.ts";
import { appCommand, type CommandKit } from "./kit.ts";

type LogsOpts = { app?: string; remote: string; json?: boolean; tail?: boolean; since?: string; type?: string; grep?: string; num: string; source?: "app" | "platform" };

function print(e: AppLogEntry, json: boolean) {
  if (json) return void process.stdout.write(`${JSON.stringify(e)}\n`);
  if (!process.stdout.isTTY) return void process.stdout.write(`${formatLine(e)}\n`);
  const who = speaker(e);
  process.stdout.write(`${pc.dim(e.t)} ${e.src === "platform" ? pc.magenta(who) : pc.cyan(who)}: ${e.line}\n`);
}

/** Follows the app's log over HTTP (NDJSON); a dropped connection is resumed after the last line. */
async function follow(app: string, params: URLSearchParams, json: boolean): Promise<never> {
  const creds = resolveCredentials();
  let last: string | undefined;
  let failures = 0;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(`${creds.url}/api/apps/${encodeURIComponent(app)}/logs?${params}`, {
        headers: { authorization: `Bearer ${creds.token}`, ...(last ? { "last-event-id": last } : {}) },
      });
    } catch (err) {
      if (++failures > 5) throw new CliError(`lost the connection to ${creds.url} (${(err as Error).message}): is the platform up? run paas logs -t again`);
      await new Promise((r) => setTimeout(r, 1000 * failures));
      continue;
    }
    if (!res.ok) {
      const body = await res.text().catch(() => "");
      let msg = `HTTP ${res.status}`;
      try {
        msg = (JSON.parse(body) as { error?: string }).error ?? msg;
      } catch {}
      throw new CliError(msg);
    }
    failures = 0;
    const split = new LineSplitter();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const l of split.push(chunk)) {
          if (!l) continue;
          const e = JSON.parse(l) as AppLogEntry;
          last = e.id;
          print(e, json);
        }
      }
    } catch {}
    // ended (a restart of the web app): go on after the last line seen
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function logCommands(program: Command, kit: CommandKit): void {
  appCommand(program, "logs", { json: true })
    .description("an app's log: its replicas' output and the platform's events (deploys, scaling, crashes)")
    .option("-t, --tail", "keep printing new lines as they come (all replicas, in time order)")
    .option("-n, --num <n>", "how many recent lines", "100")
    .option("--since <duration>", "only lines of the last 30s, 10m, 2h, 1d")
    .option("--type <type>", "only this process type's lines (web, worker...)")
    .option("--grep <text>", "only lines that contain this text")
    .addOption(new Option("--source <source>", "only the app's own lines or the platform's").choices(["app", "platform"]))
    .action(
      kit.run(async (opts: LogsOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const n = Number(opts.num);
        if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new CliError(`-n ${opts.num}: give a whole number of lines from 1 to 10000`);
        if (opts.since && parseSince(opts.since) === undefined) throw new CliError(`--since ${opts.since}: say a duration like 30s, 10m, 2h or 1d`);
        const filter = { since: opts.since, type: opts.type, grep: opts.grep, src: opts.source };
        if (opts.tail) {
          const params = new URLSearchParams({ format: "ndjson", n: String(n) });
          for (const [k, v] of Object.entries(filter)) if (v) params.set(k, v);
          await follow(app, params, Boolean(opts.json));
        }
        const lines = await kit.api().logs.recent.query({ app, n, ...filter });
        for (const e of lines) print(e, Boolean(opts.json));
      }),
    );
}
