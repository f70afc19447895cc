/** What the command modules share: the API client, the runner that reports failures, the common options. */
import { Command, Option } from "commander";
import type { Api } from "./client.ts";

export interface CommandKit {
  api(): Api;
  /** Runs a command; a failure prints one line and exits non-zero. */
  run<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void>;
}

export const appOption = () => new Option("-a, --app <app>", "the app (default: from the git remote)");
export const remoteOption = () => new Option("-r, --remote <remote>", "the git remote naming the app").default("paas");
export const jsonOption = () => new Option("--json", "print JSON for scripts");

/** A command about one app: `-a APP` (else the app of the git remote `-r`), and `--json` when it prints data. */
export function appCommand(program: Command, name: string, { json = false } = {}): Command {
  const cmd = program.command(name).addOption(appOption()).addOption(remoteOption());
  return json ? cmd.addOption(jsonOption()) : cmd;
}
