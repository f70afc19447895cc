/** `paas drains`, `drains:add URL`, `drains:remove URL`: where an app's log goes besides `paas logs`. */
import type { Command } from "commander";
import { resolveApp } from "./git.ts";
import { heading, json, pc, table, when } from "./output.ts";
import { appCommand, type CommandKit } from "./kit.ts";

type AppOpts = { app?: string; remote: string; json?: boolean };

const stateText = (s: string) => (s === "delivering" ? pc.green(s) : s === "retrying" ? pc.red(s) : pc.yellow(s));

export function drainCommands(program: Command, kit: CommandKit): void {
  const { api, run } = kit;

  appCommand(program, "drains", { json: true })
    .description("an app's log drains: each with its state, lines delivered, dropped and queued, and its last error")
    .action(
      run(async (opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const list = await api().drains.list.query({ app });
        if (opts.json) return json(list);
        if (list.length === 0) return console.log(`${app} has no drains: paas drains:add syslog+tls://logs.example.com:6514 -a ${app}`);
        console.log(heading(`${app} Drains`));
        console.log(
          table(
            ["URL", "STATE", "DELIVERED", "DROPPED", "QUEUED", "LAST ERROR"],
            list.map((d) => [d.url, stateText(d.state), String(d.sent), d.dropped ? pc.red(String(d.dropped)) : "0", String(d.queued), d.lastError ? `${when(d.lastErrorAt)} ${d.lastError}` : "-"]),
          ),
        );
      }),
    );

  appCommand(program, "drains:add", { json: true })
    .description("send the app's log to URL as well: syslog+tls://HOST:PORT, syslog+tcp://HOST:PORT (RFC 5424, octet counted) or https://... (logplex batches)")
    .argument("<url>", "the drain, e.g. syslog+tls://logs.example.com:6514")
    .action(
      run(async (url: string, opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const d = await api().drains.add.mutate({ app, url });
        if (opts.json) return json(d);
        console.log(`Successfully added drain ${pc.bold(d.url)} to ${app}: its log lines from now on go there too (paas drains -a ${app} shows how it goes).`);
      }),
    );

  appCommand(program, "drains:remove", { json: true })
    .description("stop sending the app's log to a drain")
    .argument("<url>", "the drain's URL, as added or as `paas drains` shows it")
    .action(
      run(async (url: string, opts: AppOpts) => {
        const app = resolveApp(opts.app, opts.remote);
        const d = await api().drains.remove.mutate({ app, url });
        if (opts.json) return json(d);
        console.log(`Successfully removed drain ${pc.bold(d.url)} from ${app}.`);
      }),
    );
}
