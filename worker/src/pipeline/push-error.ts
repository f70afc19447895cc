/**
 * The one error type whose message the pusher may read. Errors a user can act
 * on (a bad Dockerfile, a build that failed, a release that did not start)
 * are PushErrors or extend it; anything else is an internal error: logged in
 * full, shown to the pusher only as "internal error: ...".
 */
import { AgentError } from "@paas/shared";

export class PushError extends Error {
  constructor(
    message: string,
    /** What to do next, shown on its own line after the message. */
    readonly hint?: string,
    /** `cause`: a QuotaError makes the job's result say it was refused (deploys.ts). */
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * `err` as the pusher sees it. An agent's refusal says what it refused (its
 * answers are written for users), so it reads as a PushError too; this is the
 * one place that knows.
 */
export function asPushError(err: unknown): PushError | null {
  if (err instanceof PushError) return err;
  if (err instanceof AgentError) return new PushError(err.message);
  return null;
}

/** The line the pusher reads for `err` (with its hint), and whether it was internal. */
export function pusherMessage(err: unknown): { message: string; internal: boolean } {
  const known = asPushError(err);
  if (!known) return { message: `internal error: ${(err as Error)?.message ?? String(err)}`, internal: true };
  return { message: known.hint ? `${known.message}\n${known.hint}` : known.message, internal: false };
}
