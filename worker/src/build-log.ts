/**
 * A build's log, written as it happens to a Redis stream (the pusher and the
 * dashboard follow it live) and kept in the Build row when the build ends.
 * The format is @paas/shared/build-log's; this is its writer, with the masking
 * of secrets.
 */
import type { Redis } from "ioredis";
import { buildLogKey } from "@paas/shared";
import { endEntry, ERROR_PREFIX, INFO_INDENT, lineEntry, STEP_PREFIX, STREAM_TTL_SECONDS, type BuildStatus } from "@paas/shared/build-log";

export class BuildLog {
  readonly lines: string[] = [];
  private pending: Promise<unknown> = Promise.resolve();
  constructor(
    private readonly redis: Redis,
    readonly buildId: string,
  ) {}

  private push(fields: string[]): void {
    const key = buildLogKey(this.buildId);
    // Chain the writes so lines arrive in order without awaiting each one.
    this.pending = this.pending.then(() => this.redis.xadd(key, "*", ...fields)).catch(() => {});
  }

  /** Values never to show (config vars a build uses), longest first. */
  private secrets: string[] = [];

  /**
   * Hides `value` (a config var's value the build uses) wherever it would show from now on:
   * step titles, a RUN's own output, errors. Values under 4 characters are left alone: masking
   * every "1" or "on" would wreck the log and hide nothing worth hiding.
   */
  mask(value: string): void {
    for (const part of value.split(/\r?\n/)) {
      if (part.length >= 4 && !this.secrets.includes(part)) this.secrets.push(part);
    }
    this.secrets.sort((a, b) => b.length - a.length);
  }

  /** `text` with the masked values hidden (for what leaves the log too: the build's error). */
  redact(text: string): string {
    for (const s of this.secrets) text = text.split(s).join("*****");
    return text;
  }

  private write(raw: string): void {
    const line = this.redact(raw);
    this.lines.push(line);
    this.push(lineEntry(line));
  }

  /** A step's `-----> ` line (its timing is the pipeline runner's: pipeline/runner.ts). */
  step(title: string): void {
    this.write(STEP_PREFIX + title);
  }

  /** Indented output lines; blank ones are dropped. */
  info(text: string): void {
    for (const line of text.split(/\r?\n/)) if (line.trim()) this.write(INFO_INDENT + line);
  }

  /** An error line, Heroku style (` !     reason`). */
  error(text: string): void {
    for (const line of text.split(/\r?\n/)) this.write(ERROR_PREFIX + line);
  }

  async finish(status: BuildStatus, detail: { url?: string; error?: string }): Promise<void> {
    this.push(endEntry(status, { url: detail.url, error: detail.error && this.redact(detail.error) }));
    await this.flush();
    await this.redis.expire(buildLogKey(this.buildId), STREAM_TTL_SECONDS).catch(() => {});
  }

  flush(): Promise<unknown> {
    return this.pending;
  }

  text(): string {
    return this.lines.join("\n") + (this.lines.length ? "\n" : "");
  }
}

/** What a deploy waiting for the app's deploy lock says in its log. */
export function lockWaitLog(log: BuildLog, app: string) {
  return {
    waiting(holder: string, ahead: number) {
      const more = ahead > 1 ? ` (${ahead} deploys ahead of yours)` : "";
      log.step(`Waiting: ${holder || "another deploy"} of ${app} is deploying; yours follows${more}`);
    },
  };
}
