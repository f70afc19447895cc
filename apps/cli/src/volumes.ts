/** `paas volumes`, `volumes:add NAME PATH [--size 1G]`, `volumes:remove NAME [--force]`. */
import type { Command } from "commander";
import { formatBytes, parseVolumeSize } from "@paas/shared/sizes";
import { resolveApp } from "./git.ts";
import { heading, json, pc, table, when } from "./output.ts";
import { appCommand, type CommandKit } from "./kit.ts";

type AppOpts = { app?: string; remote: string; json?: boolean };

export function volumeCommands(program: Command, kit: CommandKit): void {
  const { api, run } = kit;

  appCommand(program, "volumes", { json: true })
    .description("an app's persistent volumes")
    .action(
      run(async (opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const list = await api().volumes.list.query({ app });
        if (opts.json) return json(list);
        if (list.length === 0) return console.log(`${app} has no volumes: paas volumes:add data /data -a ${app}`);
        console.log(heading(`${app} Volumes`));
        console.log(table(["NAME", "PATH", "SIZE", "USED", "SIDECARS", "ADDED"], list.map((v) => [v.name, v.path, `${v.sizeMb}M`, formatBytes(v.usedBytes), v.sidecars.join(", ") || "-", when(v.createdAt)])));
      }),
    );

  appCommand(program, "volumes:add", { json: true })
    .description("a persistent volume mounted at PATH in every replica (kept across deploys, restarts and rollbacks); the replicas are replaced without downtime")
    .argument("<name>", "its name, e.g. data")
    .argument("<path>", "where the replicas see it, e.g. /data")
    .option("--size <size>", "its size cap, e.g. 512M or 10G (counts toward the team's storage quota)", "1G")
    .action(
      run(async (name: string, path: string, opts: AppOpts & { size: string }) => {
        const app = resolveApp(opts.app, opts.remote);
        const v = await api().volumes.add.mutate({ app, name, path, sizeMb: parseVolumeSize(opts.size) });
        if (opts.json) return json(v);
        console.log(`Added volume ${pc.bold(v.name)} (${v.sizeMb}M) at ${v.path} to ${app}${v.replicas ? `: ${v.replicas} replica${v.replicas === 1 ? "" : "s"} mount it` : ""}.`);
      }),
    );

  appCommand(program, "volumes:remove", { json: true })
    .description("remove a volume and its data (refused while replicas mount it, unless --force replaces them without it)")
    .argument("<name>", "the volume, as `paas volumes` lists it")
    .option("--force", "replace the replicas that mount it, then delete it with its data")
    .action(
      run(async (name: string, opts: AppOpts & { force?: boolean }) => {
        const app = resolveApp(opts.app, opts.remote);
        const r = await api().volumes.remove.mutate({ app, name, force: Boolean(opts.force) });
        if (opts.json) return json(r);
        console.log(`Removed volume ${pc.bold(r.name)} from ${app}${r.replaced ? ` (its replicas replaced without it)` : ""}.`);
        for (const l of r.left) console.log(pc.yellow(`not removed on ${l}`));
      }),
    );
}
