/** Helpers of the release and build commands: shell quoting, following a build's log. */
import { resolveCredentials, CliError } from "./credentials.ts";

export const shellQuote = (v: string) => (/^[A-Za-z0-9_./:@%+=,-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

/**
 * Follows a build's log live (the NDJSON stream the git hook reads, with the
 * API token); resumes after a dropped connection. Resolves true when the build succeeded.
 */
export async function followBuildLog(buildId: string, print: (line: string) => void): Promise<boolean> {
  const creds = resolveCredentials();
  let after = "0";
  for (let attempt = 0; attempt < 6; attempt++) {
    let res: Response;
    try {
      res = await fetch(`${creds.url}/internal/builds/${encodeURIComponent(buildId)}/log?follow=1&after=${after}`, {
        headers: { authorization: `Bearer ${creds.token}` },
      });
    } catch {
      await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
      continue;
    }
    if (!res.ok || !res.body) {
      const body = await res.text().catch(() => "");
      throw new CliError(`cannot follow build ${buildId}: ${(() => { try { return JSON.parse(body).error; } catch { return `HTTP ${res.status}`; } })()}`);
    }
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.trim()) continue;
          const ev = JSON.parse(line) as { id?: string; line?: string; notice?: string; status?: string; url?: string; error?: string };
          if (ev.id) after = ev.id;
          if (typeof ev.line === "string") print(ev.line);
          else if (typeof ev.notice === "string") print(ev.notice);
          else if (ev.status === "succeeded") return true;
          else if (ev.status) {
            if (ev.error) print(` !     Build failed: ${ev.error}`);
            return false;
          }
        }
      }
    } catch {
      // Dropped mid-stream: resume after the last line.
    }
  }
  throw new CliError(`lost the log of build ${buildId} before it ended: run paas builds:logs ${buildId} -f again`);
}
