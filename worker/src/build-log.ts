/**
 * A build's log, written as it happens to a Redis stream (the pusher and the
 * dashboard follow it live) and kept in the Build row when the build ends.
 * Heroku's format: `-----> Step` for steps, indented lines for their output.
 */
import type { Redis } from "ioredis";
import { buildLogKey } from "@paas/shared";

const INDENT = "       ";
/** Keep a finished build's stream around for late readers, then let Redis drop it. */
const STREAM_TTL_SECONDS = 24 * 3600;

export class BuildLog {
  readonly lines: string[] = [];
  private pending: Promise<unknown> = Promise.resolve();
  private stepStarted = 0;

  constructor(
    private readonly redis: Redis,
    readonly buildId: string,
  ) {}

  private push(fields: string[]): void {
    const key = buildLogKey(this.buildId);
    // Chain the writes so lines arrive in order without awaiting each one.
    this.pending = this.pending.then(() => this.redis.xadd(key, "*", ...fields)).catch(() => {});
  }

  private write(line: string): void {
    this.lines.push(line);
    this.push(["line", line]);
  }

  /** Starts a named step; the previous one's duration is printed. */
  step(title: string): void {
    this.endStep();
    this.stepStarted = Date.now();
    this.write(`-----> ${title}`);
  }

  endStep(): void {
    if (this.stepStarted) this.write(`${INDENT}(${((Date.now() - this.stepStarted) / 1000).toFixed(1)}s)`);
    this.stepStarted = 0;
  }

  info(text: string): void {
    for (const line of text.split(/\r?\n/)) this.write(INDENT + line);
  }

  /** An error line, Heroku style (` !     reason`). */
  error(text: string): void {
    for (const line of text.split(/\r?\n/)) this.write(` !     ${line}`);
  }

  async finish(status: "succeeded" | "failed", detail: { url?: string; error?: string }): Promise<void> {
    this.endStep();
    const fields = ["status", status];
    if (detail.url) fields.push("url", detail.url);
    if (detail.error) fields.push("error", detail.error);
    this.push(fields);
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
