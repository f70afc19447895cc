/**
 * `paas backups`, `backups:capture [--volume NAME]`, `backups:restore ID [--to NEW_VOLUME]`,
 * `backups:download ID [-o FILE]`, `backups:schedule CRON [--keep N]`, `backups:unschedule`
 * (worker/src/backups: restic snapshots of the app's volumes). A failed backup is listed FAILED
 * with its reason; capture waits for its end and exits non-zero when it failed.
 */
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { Command } from "commander";
import { pipeline } from "node:stream/promises";
import { formatBytes } from "@paas/shared/sizes";
import { CliError, resolveCredentials } from "./credentials.ts";
import { resolveApp } from "./git.ts";
import { heading, json, pc, table, when } from "./output.ts";
import { appCommand, type CommandKit } from "./kit.ts";

type AppOpts = { app?: string; remote: string; json?: boolean };

/** GET the backup's tar into `out`; rejects with the API's message. */
function download(app: string, id: string, out: NodeJS.WritableStream): Promise<number> {
  const creds = resolveCredentials();
  const url = new URL(`/api/backups/${encodeURIComponent(id)}/download?${new URLSearchParams({ app })}`, creds.url);
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { headers: { authorization: `Bearer ${creds.token}` } }, (res) => {
      if (res.statusCode !== 200) {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => {
          let msg = text.trim() || `the API answered ${res.statusCode}`;
          try {
            msg = (JSON.parse(text) as { error?: string }).error ?? msg;
          } catch {}
          reject(new CliError(msg));
        });
        return;
      }
      let bytes = 0;
      res.on("data", (c: Buffer) => (bytes += c.length));
      // The API cuts the stream when restic fails midway: that is an error, not a short tar.
      pipeline(res, out, { end: out !== process.stdout }).then(
        () => (res.complete ? resolve(bytes) : reject(new CliError("the download was cut off (the server stopped sending): run it again; if it fails again, see the worker's log"))),
        (err: Error) => reject(new CliError(`the download failed: ${err.message}`)),
      );
    });
    req.on("error", (err) => reject(new CliError(`cannot reach the API at ${url.origin} (${err.message}); is the platform up?`)));
  });
}

export function backupCommands(program: Command, kit: CommandKit): void {
  const { api, run } = kit;

  appCommand(program, "backups", { json: true })
    .description("an app's backups (restic snapshots of its volumes), newest first, and its schedule")
    .action(
      run(async (opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const r = await api().backups.list.query({ app });
        if (opts.json) return json(r);
        console.log(heading(`${app} Backups`));
        if (r.schedule) console.log(`Schedule: ${r.schedule.cron} (UTC)${r.schedule.keep ? `, keeping the last ${r.schedule.keep}` : ""}${r.schedule.next ? `; next ${when(r.schedule.next)}` : ""}`);
        if (!r.backups.length) return console.log(`${app} has no backups yet: paas backups:capture -a ${app}`);
        console.log(
          table(
            ["ID", "VOLUME", "TIME", "SIZE", "STATUS"],
            r.backups.map((b) => [b.id, b.volume, when(b.createdAt), formatBytes(b.sizeBytes), b.status === "failed" ? pc.red(`FAILED: ${b.error ?? "no reason recorded"}`) : b.status === "succeeded" ? `ok${b.scheduled ? " (scheduled)" : ""}` : b.status]),
          ),
        );
        const failed = r.backups.filter((b) => b.status === "failed").length;
        if (failed) console.log(pc.red(`${failed} backup${failed === 1 ? "" : "s"} FAILED (see STATUS)`));
      }),
    );

  appCommand(program, "backups:capture", { json: true })
    .description("back up a volume now (the app's replicas are paused while it is read); prints the backup's id")
    .option("--volume <name>", "the volume (needed when the app has several)")
    .action(
      run(async (opts: AppOpts & { volume?: string }) => {
        const app = resolveApp(opts.app, opts.remote);
        const r = await api().backups.capture.mutate({ app, ...(opts.volume ? { volume: opts.volume } : {}) });
        if (opts.json) return json({ id: r.id });
        for (const l of r.log) console.error(l);
        console.log(r.id);
      }),
    );

  appCommand(program, "backups:restore", { json: true })
    .description("restore a backup into its volume (the app's replicas paused meanwhile), or into a new volume with --to")
    .argument("<id>", "the backup, as `paas backups` lists it")
    .option("--to <volume>", "a new volume to restore into (then mount it: paas volumes:add NAME PATH)")
    .action(
      run(async (id: string, opts: AppOpts & { to?: string }) => {
        const app = resolveApp(opts.app, opts.remote);
        const r = await api().backups.restore.mutate({ app, id, ...(opts.to ? { to: opts.to } : {}) });
        if (opts.json) return json(r);
        for (const l of r.log) console.log(l);
      }),
    );

  appCommand(program, "backups:download")
    .description("the backup's files as a tar stream (to stdout, or -o FILE)")
    .argument("<id>", "the backup, as `paas backups` lists it")
    .option("-o, --output <file>", "write the tar here instead of stdout")
    .action(
      run(async (id: string, opts: AppOpts & { output?: string }) => {
        const app = resolveApp(opts.app, opts.remote);
        if (!opts.output && process.stdout.isTTY) throw new CliError("the tar would go to your terminal: pass -o FILE or redirect stdout");
        const tmp = opts.output ? `${opts.output}.part` : undefined;
        const out = tmp ? fs.createWriteStream(tmp) : process.stdout;
        try {
          const bytes = await download(app, id, out);
          if (tmp) {
            fs.renameSync(tmp, opts.output!);
            console.error(`Wrote ${formatBytes(bytes)} to ${opts.output}`);
          }
        } catch (err) {
          if (tmp) fs.rmSync(tmp, { force: true });
          throw err;
        }
      }),
    );

  appCommand(program, "backups:schedule", { json: true })
    .description('back up on a cron schedule (UTC), e.g. "0 3 * * *"; --keep N keeps the last N (restic forget --prune)')
    .argument("<cron>", 'five cron fields, e.g. "0 3 * * *"')
    .option("--keep <n>", "how many backups of the volume to keep")
    .option("--volume <name>", "the volume (needed when the app has several)")
    .action(
      run(async (cron: string, opts: AppOpts & { keep?: string; volume?: string }) => {
        const app = resolveApp(opts.app, opts.remote);
        const keep = opts.keep === undefined ? undefined : Number(opts.keep);
        if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) throw new CliError(`--keep ${opts.keep}: give a whole number of backups, 1 or more`);
        const r = await api().backups.schedule.mutate({ app, cron, ...(keep ? { keep } : {}), ...(opts.volume ? { volume: opts.volume } : {}) });
        if (opts.json) return json(r);
        console.log(`Backups of ${app} scheduled at "${r.cron}" (UTC)${r.keep ? `, keeping the last ${r.keep}` : ""}${r.next ? `; the next at ${r.next.toISOString?.() ?? r.next}` : ""}.`);
      }),
    );

  appCommand(program, "backups:unschedule", { json: true })
    .description("stop the app's scheduled backups (the backups made are kept)")
    .action(
      run(async (opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const r = await api().backups.unschedule.mutate({ app });
        if (opts.json) return json(r);
        console.log(r.removed ? `Scheduled backups of ${app} stopped.` : `${app} had no backup schedule.`);
      }),
    );
}
