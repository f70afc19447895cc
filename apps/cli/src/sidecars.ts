/** `paas sidecars`, `sidecars:attach KIND [--image IMAGE --volume NAME:/path --net app] [-- CMD...]`, `sidecars:detach KIND`. */
import type { Command } from "commander";
import { parseMemoryMb } from "@paas/shared/sizes";
import { CliError } from "./credentials.ts";
import { resolveApp } from "./git.ts";
import { heading, json, pc, table, when } from "./output.ts";
import { appCommand, type CommandKit } from "./kit.ts";

type AppOpts = { app?: string; remote: string; json?: boolean };
const collect = (v: string, prev: string[] = []) => [...prev, v];

export function sidecarCommands(program: Command, kit: CommandKit): void {
  const { api, run } = kit;

  appCommand(program, "sidecars", { json: true })
    .description("an app's sidecars and their container on each replica")
    .action(
      run(async (opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const list = await api().sidecars.list.query({ app });
        if (opts.json) return json(list);
        if (list.length === 0) return console.log(`${app} has no sidecars: paas sidecars:attach NAME --image IMAGE -a ${app}`);
        console.log(heading(`${app} Sidecars`));
        console.log(
          table(
            ["KIND", "IMAGE", "NET", "VOLUMES", "MEMORY", "REPLICAS", "ATTACHED"],
            list.map((s) => [
              s.kind,
              s.image,
              s.net,
              s.volumes.map((v) => `${v.name}:${v.path}`).join(",") || "-",
              `${s.memoryMb}M`,
              s.replicas.map((r) => `${r.replica} ${r.state}${r.restarts ? ` (${r.restarts} restarts)` : ""}`).join(", ") || pc.dim("none running"),
              when(s.attachedAt),
            ]),
          ),
        );
      }),
    );

  appCommand(program, "sidecars:attach", { json: true })
    .description("run a sidecar beside every replica (in its network namespace, sharing the volumes named); the app is not restarted. Attaching a kind again swaps it")
    .argument("<kind>", "a kind of the platform (logging: the files under /var/log/app to paas logs; metrics: the app's /metrics to Prometheus) or a name of yours with --image")
    .argument("[cmd...]", "the command (after --), instead of the image's")
    .option("--image <image>", "the sidecar's image (a custom sidecar)")
    .option("--volume <name:path>", "share the app's volume NAME at PATH (repeatable)", collect)
    .option("--net <net>", "app: join the replica's network namespace (default); none: loopback only")
    .option("-e, --env <K=V>", "an environment variable (repeatable)", collect)
    .option("--memory <size>", "its memory limit per replica, e.g. 64M (counts toward the team's memory quota)")
    .action(
      run(async (kind: string, cmd: string[], opts: AppOpts & { image?: string; volume?: string[]; net?: string; env?: string[]; memory?: string }) => {
        const app = resolveApp(opts.app, opts.remote);
        const volumes = (opts.volume ?? []).map((v) => {
          const i = v.indexOf(":");
          if (i <= 0 || !v.slice(i + 1).startsWith("/")) throw new CliError(`--volume ${v}: write NAME:/path, e.g. --volume data:/data`);
          return { name: v.slice(0, i), path: v.slice(i + 1) };
        });
        if (opts.net && opts.net !== "app" && opts.net !== "none") throw new CliError(`--net ${opts.net}: use app (the replica's network namespace) or none`);
        const env: Record<string, string> = {};
        for (const e of opts.env ?? []) {
          const i = e.indexOf("=");
          if (i <= 0) throw new CliError(`--env ${e}: write K=V`);
          env[e.slice(0, i)] = e.slice(i + 1);
        }
        const r = await api().sidecars.attach.mutate({
          app,
          kind,
          ...(opts.image ? { image: opts.image } : {}),
          ...(cmd.length ? { cmd } : {}),
          ...(volumes.length ? { volumes } : {}),
          ...(opts.net ? { net: opts.net as "app" | "none" } : {}),
          ...(Object.keys(env).length ? { env } : {}),
          ...(opts.memory ? { memoryMb: parseMemoryMb(opts.memory) } : {}),
        });
        if (opts.json) return json(r);
        console.log(r.message);
      }),
    );

  appCommand(program, "sidecars:detach", { json: true })
    .description("remove a sidecar from every replica; the app is not restarted")
    .argument("<kind>", "the sidecar, as `paas sidecars` lists it")
    .action(
      run(async (kind: string, opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const r = await api().sidecars.detach.mutate({ app, kind });
        if (opts.json) return json(r);
        console.log(r.message);
      }),
    );
}
