/**
 * `paas`: the platform from a terminal, Heroku style (`topic:command`,
 * `-a APP`, `--json`). It talks to the API only.
 */
import { Command, Option } from "commander";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { describeError, makeClient, type Api } from "./client.ts";
import { CliError, normalizeUrl, readStored, resolveCredentials, writeStored, type Credentials } from "./credentials.ts";
import { isGitRepo, remoteUrlFor, resolveApp, setCredentialHelper, setRemote } from "./git.ts";
import { heading, json, pc, short, status, table, when } from "./output.ts";
import { parseAssignments } from "@paas/shared/config-vars";
import { removedPreviewText } from "@paas/shared/previews";
import { formatCpus, formatMemory, parseCpuMillis, parseMemoryMb, parseScaleArgs, SizeError } from "@paas/shared/sizes";
import { followBuildLog, shellQuote } from "./follow.ts";
import { domainCommands } from "./domains.ts";
import { sidecarCommands } from "./sidecars.ts";
import { volumeCommands } from "./volumes.ts";
import { drainCommands } from "./drains.ts";
import { runCommands } from "./run.ts";
import { quotaCommands } from "./quotas.ts";
import { logCommands } from "./logs.ts";
import { teamCommands } from "./teams.ts";
import { backupCommands } from "./backups.ts";
import { appCommand, appOption, jsonOption, type CommandKit } from "./kit.ts";

let currentUrl: string | undefined;

// `paas apps | head` closes the pipe early; that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

function api(): Api {
  const creds = resolveCredentials();
  currentUrl = creds.url;
  return makeClient(creds);
}

/** Runs a command; a failure prints one line and exits non-zero. */
function run<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.stderr.write(`${pc.red("error")} ${describeError(err, currentUrl)}\n`);
      process.exit(1);
    }
  };
}


async function ask(question: string, { secret = false } = {}): Promise<string> {
  // Muted output for secrets: the prompt is written, the typed characters are not.
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: Boolean(process.stdin.isTTY) });
  try {
    const p = rl.question(question);
    muted = secret;
    const answer = await p;
    if (secret && process.stdin.isTTY) process.stderr.write("\n");
    return answer.trim();
  } finally {
    rl.close();
  }
}

const program = new Command("paas")
  .description("Deploy and manage apps on the PaaS.\nPAAS_URL and PAAS_TOKEN override the credentials stored by `paas login`.")
  .showHelpAfterError("(run paas --help for the commands)")
  .configureOutput({ outputError: (s, write) => write(pc.red(s)) });

program
  .command("login")
  .description("store the API URL and a token in ~/.config/paas/credentials.json")
  .option("--url <url>", "the dashboard/API URL, e.g. http://localhost:3000")
  .option("--token <token>", "an API token (the bootstrap one is in $PAAS_DATA_DIR/admin-token)")
  .action(
    run(async (opts: { url?: string; token?: string }) => {
      const stored = readStored();
      const fallbackUrl = process.env.PAAS_URL || stored.url || "http://localhost:3000";
      const url = normalizeUrl(opts.url || (await ask(`API URL [${fallbackUrl}]: `)) || fallbackUrl);
      const token = opts.token || process.env.PAAS_TOKEN || (await ask("API token: ", { secret: true }));
      if (!token) throw new CliError("no token given: pass --token or paste one at the prompt");
      currentUrl = url;
      const me = await makeClient({ url, token }).auth.whoami.query();
      const file = writeStored({ url, token } satisfies Credentials);
      console.log(`Logged in to ${url} as ${pc.bold(me.email)}${me.teams.length ? ` (teams: ${me.teams.map((t) => t.name).join(", ")})` : ""}.`);
      console.log(pc.dim(`Credentials saved to ${file}`));
    }),
  );

program
  .command("whoami")
  .description("the signed-in user and teams")
  .addOption(jsonOption())
  .action(
    run(async (opts: { json?: boolean }) => {
      const me = await api().auth.whoami.query();
      if (opts.json) return json(me);
      console.log(`${me.email}${me.isOperator ? pc.dim(" (operator)") : ""}`);
      for (const t of me.teams) console.log(`  ${t.name} ${pc.dim(t.role)}`);
    }),
  );

program
  .command("apps")
  .description("list the apps of your teams")
  .addOption(jsonOption())
  .action(
    run(async (opts: { json?: boolean }) => {
      const apps = await api().apps.list.query();
      if (opts.json) return json(apps);
      if (apps.length === 0) return console.log("No apps yet: create one with `paas apps:create NAME`.");
      console.log(
        table(
          ["NAME", "TEAM", "RELEASE", "BUILD", "URL"],
          apps.map((a) => [
            a.name,
            a.team,
            a.latestRelease ? `v${a.latestRelease.version} ${status(a.latestRelease.status)}` : pc.dim("none"),
            a.latestBuild ? status(a.latestBuild.status) : pc.dim("none"),
            a.url,
          ]),
        ),
      );
    }),
  );

program
  .command("apps:create")
  .description("create an app (and its git repository)")
  .argument("<name>", "the app name: lowercase letters, digits and dashes")
  .option("-t, --team <team>", "the team that owns it (needed when you are in several)")
  .addOption(jsonOption())
  .action(
    run(async (name: string, opts: { team?: string; json?: boolean }) => {
      const client = api();
      const app = await client.apps.create.mutate({ name, team: opts.team });
      const gitUrl = remoteUrlFor(currentUrl!, app.name);
      if (opts.json) return json({ ...app, gitUrl });
      console.log(`Created ${pc.bold(app.name)} in team ${app.team}.`);
      console.log(`  URL: ${app.url}`);
      console.log(`  Git: ${gitUrl}`);
      console.log(pc.dim(`Next: paas git:remote -a ${app.name} && git push paas main`));
    }),
  );

appCommand(program, "apps:info", { json: true })
  .description("an app's URL, latest release and build, processes")
  .action(
    run(async (opts: { app?: string; remote: string; json?: boolean }) => {
      const info = await api().apps.info.query({ name: resolveApp(opts.app, opts.remote) });
      if (opts.json) return json(info);
      console.log(heading(info.name));
      const rows: [string, string][] = [
        ["Team", info.team],
        ["URL", info.url],
        ["Git", remoteUrlFor(currentUrl!, info.name)],
        ["Branch", info.deployBranch],
        ["Outbound", info.settings.egress === "limited" ? `limited to ${info.settings.egressAllow}` : info.settings.egress],
        ["Release", info.latestRelease ? `v${info.latestRelease.version} ${status(info.latestRelease.status)} (${info.latestRelease.imageRef})` : "none"],
        ["Build", info.latestBuild ? `${short(info.latestBuild.commit)} ${status(info.latestBuild.status)} ${when(info.latestBuild.createdAt)}` : "none"],
        ["Formation", info.formation.map((f) => `${f.processType}=${f.quantity}`).join(" ") || "none"],
      ];
      for (const [k, v] of rows) console.log(`${(k + ":").padEnd(11)}${v}`);
      if (info.containers.length) {
        console.log();
        console.log(table(["PROCESS", "STATE", "RELEASE", "HOST", "ADDRESS"], info.containers.map((c) => [c.processType, status(c.state), `v${c.release}`, c.host, c.address ?? ""])));
      }
    }),
  );

program
  .command("apps:destroy")
  .description("destroy an app and everything it has (replicas, routes, images, build cache, repository, preview apps)")
  .argument("[name]", "the app (same as -a; never taken from the git remote)")
  .option("-a, --app <app>", "the app")
  .option("--confirm <name>", "the app's name again: nothing is destroyed without it")
  .addOption(jsonOption())
  .action(
    run(async (arg: string | undefined, opts: { app?: string; confirm?: string; json?: boolean }) => {
      const name = arg ?? opts.app;
      if (!name) throw new CliError("name the app to destroy: paas apps:destroy APP --confirm APP");
      if (opts.confirm === undefined) throw new CliError(`this destroys ${name} and everything it has for good: run again with --confirm ${name}`);
      const r = await api().apps.destroy.mutate({ name, confirm: opts.confirm });
      if (opts.json) return json(r);
      console.log(`Destroyed ${pc.bold(r.name)}.`);
    }),
  );

program
  .command("git:remote")
  .description("add a git remote for the app to the repository in this directory")
  .argument("[app]", "the app (same as -a)")
  .addOption(appOption())
  .option("-r, --remote <remote>", "the remote's name", "paas")
  .option("--no-credential-helper", "do not make git ask `paas` for the token")
  .action(
    run(async (appArg: string | undefined, opts: { app?: string; remote: string; credentialHelper: boolean }) => {
      const name = appArg ?? opts.app;
      if (!name) throw new CliError("which app? pass it: paas git:remote APP");
      if (!isGitRepo()) throw new CliError("this directory is not a git repository: run `git init` first");
      const client = api();
      await client.apps.info.query({ name }); // fails clearly for unknown apps
      const url = remoteUrlFor(currentUrl!, name);
      const how = setRemote(opts.remote, url);
      console.log(`Git remote ${pc.bold(opts.remote)} ${how}: ${url}`);
      if (opts.credentialHelper) {
        const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/paas");
        setCredentialHelper(new URL(currentUrl!).origin, `!'${bin}' git:credential`);
        console.log(pc.dim("git takes the token from `paas` (PAAS_TOKEN or `paas login`); none is stored in .git/config."));
      } else {
        console.log(pc.dim("git will ask for a password: paste your API token (any user name)."));
      }
    }),
  );

// git's credential helper protocol: `get` prints the token; `store`/`erase` do nothing.
program
  .command("git:credential", { hidden: true })
  .argument("<operation>")
  .action(
    run(async (op: string) => {
      if (op !== "get") return;
      const creds = resolveCredentials();
      process.stdout.write(`username=paas\npassword=${creds.token}\n`);
    }),
  );

appCommand(program, "builds", { json: true })
  .description("an app's builds, newest first")
  .action(
    run(async (opts: { app?: string; remote: string; json?: boolean }) => {
      const builds = await api().builds.list.query({ app: resolveApp(opts.app, opts.remote) });
      if (opts.json) return json(builds);
      if (builds.length === 0) return console.log("No builds yet: git push paas main");
      console.log(table(["ID", "STATUS", "COMMIT", "CREATED", "MESSAGE"], builds.map((b) => [b.id, status(b.status), short(b.commit), when(b.createdAt), b.message ?? ""])));
    }),
  );

appCommand(program, "builds:logs", { json: true })
  .description("the log of a build (default: the latest); -f follows it live until the build ends")
  .argument("[id]", "the build id (see paas builds)")
  .option("-f, --follow", "stream the log until the build ends; exits non-zero if it failed")
  .action(
    run(async (id: string | undefined, opts: { app?: string; remote: string; json?: boolean; follow?: boolean }) => {
      const app = resolveApp(opts.app, opts.remote);
      const client = api();
      const buildId = id ?? (await client.builds.list.query({ app, limit: 1 }))[0]?.id;
      if (!buildId) throw new CliError(`app "${app}" has no builds yet: git push paas main`);
      if (opts.follow) {
        const ok = await followBuildLog(buildId, (line) => process.stdout.write(line + "\n"));
        if (!ok) process.exitCode = 1;
        return;
      }
      const build = await client.builds.get.query({ app, id: buildId });
      if (opts.json) return json(build);
      process.stdout.write(build.log.endsWith("\n") || build.log === "" ? build.log : build.log + "\n");
      if (build.status === "failed") process.exitCode = 1;
    }),
  );

appCommand(program, "releases", { json: true })
  .description("an app's releases, newest first")
  .action(
    run(async (opts: { app?: string; remote: string; json?: boolean }) => {
      const releases = await api().releases.list.query({ app: resolveApp(opts.app, opts.remote) });
      if (opts.json) return json(releases);
      if (releases.length === 0) return console.log("No releases yet: git push paas main");
      console.log(table(["VERSION", "STATUS", "COMMIT", "CREATED", "DESCRIPTION"], releases.map((r) => [`v${r.version}`, status(r.status), short(r.commit), when(r.createdAt), r.error ? `${r.description} (failed: ${r.error})` : r.description])));
    }),
  );

appCommand(program, "releases:info", { json: true })
  .description("one release: image, process types, config var names")
  .argument("<version>", "vN")
  .action(
    run(async (version: string, opts: { app?: string; remote: string; json?: boolean }) => {
      const r = await api().releases.info.query({ app: resolveApp(opts.app, opts.remote), version });
      if (opts.json) return json(r);
      console.log(heading(`Release v${r.version}`));
      const rows: [string, string][] = [
        ["Status", status(r.status)],
        ["By", r.description],
        ...(r.error ? [["Failed", r.error] as [string, string]] : []),
        ["Image", r.imageRef],
        ["Commit", short(r.commit)],
        ["Created", when(r.createdAt)],
        ["Processes", Object.entries(r.processTypes).map(([k, v]) => `${k}: ${v}`).join("; ")],
        ["Config", r.configKeys.join(", ") || "none"],
      ];
      for (const [k, v] of rows) console.log(`${(k + ":").padEnd(11)}${v}`);
    }),
  );

appCommand(program, "rollback", { json: true })
  .description("deploy the image and config of an earlier release, as a new release")
  .argument("<version>", "vN")
  .action(
    run(async (version: string, opts: { app?: string; remote: string; json?: boolean }) => {
      const app = resolveApp(opts.app, opts.remote);
      if (!opts.json) process.stderr.write(`Rolling back ${app} to ${version.startsWith("v") ? version : "v" + version}... `);
      const r = await api().releases.rollback.mutate({ app, version });
      if (opts.json) return json(r);
      process.stderr.write(`done, ${pc.bold(`v${r.version}`)}\n`);
    }),
  );

appCommand(program, "config", { json: true })
  .description("an app's config vars (values shown, as heroku does; the dashboard masks them)")
  .option("-s, --shell", "print KEY=VALUE lines for a shell")
  .action(
    run(async (opts: { app?: string; remote: string; json?: boolean; shell?: boolean }) => {
      const app = resolveApp(opts.app, opts.remote);
      const vars = await api().config.get.query({ app, reveal: true });
      if (opts.json) return json(vars);
      const keys = Object.keys(vars);
      if (opts.shell) return keys.forEach((k) => console.log(`${k}=${shellQuote(vars[k])}`));
      if (keys.length === 0) return console.log(`${app} has no config vars: paas config:set KEY=VALUE -a ${app}`);
      console.log(heading(`${app} Config Vars`));
      const width = Math.max(...keys.map((k) => k.length)) + 2;
      for (const k of keys) console.log(`${pc.green((k + ":").padEnd(width))}${vars[k]}`);
    }),
  );

/** A config change: says what it does, waits for the new release, prints its version. */
async function restartWith(doing: string, asJson: boolean | undefined, change: () => Promise<{ release?: number | null; message?: string }>) {
  if (!asJson) process.stderr.write(`${doing}... `);
  const r = await change();
  if (asJson) return json(r);
  process.stderr.write(`done${r.release ? `, ${pc.bold(`v${r.release}`)}` : ` (${r.message})`}\n`);
}

appCommand(program, "config:set", { json: true })
  .description("set config vars and restart the app with them (a new release, no rebuild)")
  .argument("<assignments...>", "KEY=VALUE ...")
  .action(
    run(async (assignments: string[], opts: { app?: string; remote: string; json?: boolean }) => {
      const app = resolveApp(opts.app, opts.remote);
      const vars = parseAssignments(assignments);
      await restartWith(`Setting ${Object.keys(vars).join(", ")} and restarting ${app}`, opts.json, () =>
        api().config.set.mutate({ app, vars }),
      );
    }),
  );

appCommand(program, "config:unset", { json: true })
  .description("remove config vars and restart the app without them")
  .argument("<keys...>", "KEY ...")
  .action(
    run(async (keys: string[], opts: { app?: string; remote: string; json?: boolean }) => {
      const app = resolveApp(opts.app, opts.remote);
      await restartWith(`Unsetting ${keys.join(", ")} and restarting ${app}`, opts.json, () =>
        api().config.unset.mutate({ app, keys }),
      );
    }),
  );

appCommand(program, "apps:update", { json: true })
  .description("an app's settings: the deploy branch, preview apps, what a push does during a build, the build time limit, outbound network")
  .option("--deploy-branch <branch>", "the branch whose pushes deploy the app (from its next push)")
  .addOption(new Option("--previews <on|off>", "pushes of other branches deploy <branch>.<app>.<domain>").choices(["on", "off"]))
  .addOption(new Option("--build-mode <mode>", "a push during a build: wait for it, or cancel it").choices(["queue", "supersede"]))
  .option("--build-timeout <seconds>", "build time limit in seconds (\"default\" for the platform's)")
  .addOption(new Option("--egress <on|off>", "outbound network beyond the host (a new release applies it)").choices(["on", "off"]).conflicts("egressAllow"))
  .option("--egress-allow <list>", "outbound network only to DEST:PORT[/udp],... (DEST an address, a.b.c.d/n, or a host name resolved at deploy)")
  .action(
    run(async (opts: { app?: string; remote: string; json?: boolean; deployBranch?: string; previews?: string; buildMode?: "queue" | "supersede"; buildTimeout?: string; egress?: "on" | "off"; egressAllow?: string }) => {
      const name = resolveApp(opts.app, opts.remote);
      // The outbound network deploys (a new release), so it has its own call; the rest are settings.
      if (opts.egress !== undefined || opts.egressAllow !== undefined) {
        const e = await api().apps.egress.mutate({ name, egress: opts.egress, allow: opts.egressAllow });
        if (opts.deployBranch === undefined && opts.previews === undefined && opts.buildMode === undefined && opts.buildTimeout === undefined) {
          if (opts.json) return json(e);
          return console.log(`${pc.bold(e.name)}: ${e.message}`);
        }
        if (!opts.json) console.log(`${pc.bold(e.name)}: ${e.message}`);
      }
      let buildTimeoutSeconds: number | null | undefined;
      if (opts.buildTimeout === "default") buildTimeoutSeconds = null;
      else if (opts.buildTimeout !== undefined) {
        buildTimeoutSeconds = Number(opts.buildTimeout);
        if (!Number.isInteger(buildTimeoutSeconds) || buildTimeoutSeconds < 1) throw new CliError("--build-timeout takes whole seconds (or \"default\")");
      }
      const r = await api().apps.update.mutate({
        name,
        deployBranch: opts.deployBranch,
        previews: opts.previews === undefined ? undefined : opts.previews === "on",
        buildMode: opts.buildMode,
        buildTimeoutSeconds,
      });
      if (opts.json) return json(r);
      console.log(`${pc.bold(r.name)}: deploys from ${r.deployBranch}, previews ${r.previews ? "on" : "off"}, build mode ${r.buildMode}, build timeout ${r.buildTimeoutSeconds ? `${r.buildTimeoutSeconds}s` : "default"}`);
      if (r.removedPreview) console.log(removedPreviewText(r.name, r.deployBranch, r.removedPreview));
    }),
  );

/** "3m", "2h5m", "4d3h": how long a replica has run. */
function uptime(seconds: number | null): string {
  if (seconds === null) return "";
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60);
  if (d) return `${d}d${h}h`;
  if (h) return `${h}h${m}m`;
  return m ? `${m}m${seconds % 60}s` : `${seconds}s`;
}

const mib = (bytes: number | null) => (bytes === null ? "" : `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)}M`);

appCommand(program, "ps", { json: true })
  .description("an app's replicas: type.number, state, release, uptime, host, ip:port, memory use")
  .action(
    run(async (opts: { app?: string; remote: string; json?: boolean }) => {
      const app = resolveApp(opts.app, opts.remote);
      const ps = await api().ps.list.query({ app });
      if (opts.json) return json(ps);
      if (!ps.formation.length) return console.log(`${app} runs nothing yet: git push paas main`);
      for (const f of ps.formation) {
        console.log(heading(`${f.type}: ${f.quantity} x ${formatMemory(f.memoryMb)}, ${formatCpus(f.cpuMillis)} CPU`));
      }
      if (!ps.replicas.length) return console.log(`No replicas run: paas ps:scale web=1 -a ${app}`);
      console.log();
      console.log(
        table(
          ["NAME", "STATE", "RELEASE", "UPTIME", "HOST", "ADDRESS", "MEMORY"],
          ps.replicas.map((r) => {
            const why = r.state === "crashed" ? ` (exit ${r.exitCode ?? "?"}${r.oomKilled ? ", OOM" : ""})` : r.restarts ? ` (${r.restarts} restarts)` : "";
            const mem = r.memoryBytes === null ? "" : `${mib(r.memoryBytes)}${r.memoryLimitBytes ? `/${mib(r.memoryLimitBytes)}` : ""}`;
            return [r.name, status(r.state) + why, `v${r.release}`, uptime(r.uptimeSeconds), r.host, r.address ?? "", mem];
          }),
        ),
      );
    }),
  );

/** A ps change: says what it does, waits for the worker, prints what changed. */
async function psChange(doing: string, asJson: boolean | undefined, change: () => Promise<{ version: number | null; log: string[] }>) {
  if (!asJson) process.stderr.write(`${doing}... `);
  const r = await change();
  if (asJson) return json(r);
  process.stderr.write("done\n");
  // The worker's summary lines ("web: 3 replicas, 256 MB, 0.25 CPU each (2 started)").
  for (const line of r.log) if (/^\s+\S+: \d+ replicas?, /.test(line)) console.log(line.trim());
}

/** Bad input as the CLI's one-line error, before anything is sent. */
function parsed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SizeError) throw new CliError(err.message);
    throw err;
  }
}

appCommand(program, "ps:scale", { json: true })
  .description("run N replicas of each process type named: ps:scale web=3 worker=2 (a scale-down drains first)")
  .argument("<type=N...>", "process type and replica count")
  .action(
    run(async (args: string[], opts: { app?: string; remote: string; json?: boolean }) => {
      const quantities = parsed(() => parseScaleArgs(args));
      const app = resolveApp(opts.app, opts.remote);
      const what = Object.entries(quantities).map(([t, n]) => `${t} to ${n}`).join(", ");
      await psChange(`Scaling ${app}: ${what}`, opts.json, () => api().ps.scale.mutate({ app, quantities }));
    }),
  );

appCommand(program, "ps:restart", { json: true })
  .description("replace the replicas of a process type (all when none is named): new ones serve before the old ones stop")
  .argument("[type]", "process type, e.g. web")
  .action(
    run(async (type: string | undefined, opts: { app?: string; remote: string; json?: boolean }) => {
      const app = resolveApp(opts.app, opts.remote);
      await psChange(`Restarting ${type ?? "every process"} of ${app}`, opts.json, () => api().ps.restart.mutate({ app, type }));
    }),
  );

appCommand(program, "ps:stop", { json: true })
  .description("stop every replica of a process type (scaled to 0; ps:scale brings it back)")
  .argument("<type>", "process type, e.g. worker")
  .action(
    run(async (type: string, opts: { app?: string; remote: string; json?: boolean }) => {
      const app = resolveApp(opts.app, opts.remote);
      await psChange(`Stopping ${type} of ${app}`, opts.json, () => api().ps.stop.mutate({ app, type }));
    }),
  );

appCommand(program, "ps:resize", { json: true })
  .description("change the memory and CPU of each replica of a process type (replaced, without downtime)")
  .argument("<type>", "process type, e.g. web")
  .option("--memory <size>", "memory limit per replica, e.g. 512M or 1G")
  .option("--cpus <n>", "CPUs per replica, e.g. 0.5")
  .action(
    run(async (type: string, opts: { app?: string; remote: string; json?: boolean; memory?: string; cpus?: string }) => {
      if (opts.memory === undefined && opts.cpus === undefined) throw new CliError("give --memory (e.g. 512M), --cpus (e.g. 0.5) or both");
      const memoryMb = opts.memory === undefined ? undefined : parsed(() => parseMemoryMb(opts.memory!));
      const cpuMillis = opts.cpus === undefined ? undefined : parsed(() => parseCpuMillis(opts.cpus!));
      const app = resolveApp(opts.app, opts.remote);
      const what = [opts.memory && `memory ${formatMemory(memoryMb!)}`, opts.cpus && `${formatCpus(cpuMillis!)} CPU`].filter(Boolean).join(", ");
      await psChange(`Resizing ${type} of ${app} to ${what}`, opts.json, () => api().ps.resize.mutate({ app, type, memoryMb, cpuMillis }));
    }),
  );

const kit: CommandKit = { api, run };
domainCommands(program, kit);
sidecarCommands(program, kit);
volumeCommands(program, kit);
runCommands(program, kit);
quotaCommands(program, kit);
logCommands(program, kit);
drainCommands(program, kit);
teamCommands(program, kit);
backupCommands(program, kit);

await program.parseAsync(process.argv);
