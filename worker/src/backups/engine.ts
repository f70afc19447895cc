/**
 * restic, run in a short-lived container of stack/backup (Debian's restic, made at set-up like
 * the stacks) beside the app: the app's image is never touched. The container gets the app
 * volume at /data (read-only to capture, writable to restore), the repository's directory at
 * /repo and its key at /key (bind mounts of those directories only). It idles until the
 * commands come through the agent's exec (as `paas run`'s one-off containers do), then goes.
 *
 * It runs without a user namespace: restic must read every file of the volume whoever owns it,
 * restore the owners as they were, and write a repository owned by the host's root.
 */
import type { Writable } from "node:stream";
import { AgentClient, type VolumeMount } from "@paas/shared";
import { PushError } from "../pipeline/push-error.ts";
import { redactRepoSecrets, type BackupRepo } from "./repo.ts";

export const BACKUP_IMAGE = "stack/backup";
export const DATA = "/data";
const IDLE = ["sleep", "86400"];
const MEMORY_MB = 512;

export class ResticError extends PushError {}

export interface ResticResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class ResticBox {
  private constructor(
    readonly agent: AgentClient,
    readonly id: string,
  ) {}

  /** Makes and starts the container; `volume` is mounted at /data. */
  static async open(agent: AgentClient, opts: { app: { name: string; team: { name: string } }; repo: BackupRepo; volume?: string; readOnly?: boolean; purpose: string }): Promise<ResticBox> {
    const volumes: VolumeMount[] = opts.volume ? [{ name: opts.volume, path: DATA, readOnly: !!opts.readOnly }] : [];
    const info = await agent.createContainer({
      name: `${opts.app.name}-backup-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      image: BACKUP_IMAGE,
      cmd: IDLE,
      env: { ...opts.repo.env, RESTIC_REPOSITORY: opts.repo.repository, RESTIC_CACHE_DIR: "/tmp/restic-cache" },
      memoryBytes: MEMORY_MB * 2 ** 20,
      cgroupParent: `${opts.app.team.name}/${opts.app.name}`,
      // A remote store needs the network; a local repository is a bind mount.
      network: opts.repo.localDir ? "none" : "bridge",
      userns: false,
      ...(volumes.length ? { volumes } : {}),
      binds: opts.repo.binds,
      labels: { "paas.app": opts.app.name, "paas.backup": opts.purpose },
    });
    try {
      await agent.start(info.id);
    } catch (err) {
      await agent.remove(info.id, true).catch(() => {});
      throw new ResticError(`the backup container did not start: ${redactRepoSecrets((err as Error).message)}`);
    }
    return new ResticBox(agent, info.id);
  }

  /** Runs `cmd` in the container; stdout is collected, or piped to `out` when given. */
  async run(cmd: string[], out?: Writable): Promise<ResticResult> {
    const proc = await this.agent.exec(this.id, { cmd });
    proc.stdin.end();
    let stdout = "";
    let stderr = "";
    if (out) proc.stdout.pipe(out);
    else proc.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await proc.exit;
    return { code, stdout, stderr };
  }

  /** restic ARGS; throws ResticError with restic's own last words (its secrets hidden) when it fails. */
  async restic(args: string[], what: string): Promise<string> {
    const r = await this.run(["restic", "--no-cache", ...args]);
    if (r.code !== 0) throw new ResticError(`${what} failed: ${redactRepoSecrets(lastWords(r.stderr)) || `restic exited with ${r.code}`}`);
    return r.stdout;
  }

  async close(): Promise<void> {
    await this.agent.remove(this.id, true).catch(() => {});
  }
}

/** restic's error, one line (its last lines name the cause). */
export function lastWords(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.slice(-2).join(" / ").slice(0, 500);
}
