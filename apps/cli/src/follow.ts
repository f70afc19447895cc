/** Helpers of the release and build commands: shell quoting, following a build's log. */
import { FollowError, followNdjson, renderEvent } from "@paas/shared/build-log";
import { resolveCredentials, CliError } from "./credentials.ts";

export const shellQuote = (v: string) => (/^[A-Za-z0-9_./:@%+=,-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

/**
 * Follows a build's log live (the NDJSON stream the git hook reads, with the
 * API token), printed as the hook prints it; resumes after a dropped
 * connection. Resolves true when the build succeeded.
 */
export async function followBuildLog(buildId: string, print: (line: string) => void): Promise<boolean> {
  const creds = resolveCredentials();
  const printed: string[] = [];
  try {
    const end = await followNdjson({
      open: async (after) => {
        const res = await fetch(`${creds.url}/internal/builds/${encodeURIComponent(buildId)}/log?follow=1&after=${after}`, {
          headers: { authorization: `Bearer ${creds.token}` },
        });
        return {
          status: res.status,
          // Node's fetch body is async-iterable (its DOM type does not say so).
          body: (res.body ?? new ReadableStream()) as unknown as AsyncIterable<Uint8Array>,
          error: async () => {
            const body = await res.text().catch(() => "");
            try {
              return (JSON.parse(body) as { error?: string }).error ?? `HTTP ${res.status}`;
            } catch {
              return `HTTP ${res.status}`;
            }
          },
        };
      },
      onEvent: (ev) => {
        const { print: lines } = renderEvent(ev, printed);
        lines.forEach(print);
        printed.push(...lines);
      },
    });
    return end.status === "succeeded";
  } catch (err) {
    if (!(err instanceof FollowError)) throw err;
    throw new CliError(`${err.message} (build ${buildId}): run paas builds:logs ${buildId} -f again`);
  }
}
