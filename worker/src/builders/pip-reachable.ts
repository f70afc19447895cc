/**
 * pip's indexes that answer from this host. pip tries an index it cannot reach five times with
 * back-off for every package (~10 s each), then goes on to the next: a host whose pip.conf adds
 * a local index but keeps the default pypi.org (unreachable from a closed network) built a
 * four-package Django app in 58 s, 50 of them retries, the log full of warnings. Each http(s)
 * index is tried once (3 s, the answer kept 5 min); those that do not answer are left out of
 * the build's settings, and the log says so. With a proxy configured, pip's own view stands.
 */
import { maskDrainUrl } from "@paas/shared/drains";
import type { PackageIndexes } from "./package-indexes.ts";

/** pip's index when none is configured. */
export const PIP_DEFAULT_INDEX = "https://pypi.org/simple";
const PROBE_TIMEOUT_MS = 3000;
const REMEMBER_MS = 5 * 60_000;

export type Probe = (url: string) => Promise<string | null>;

/** null when `url` answers at all (any HTTP status), else why not. */
const fetchProbe: Probe = async (url) => {
  try {
    await fetch(url, { method: "HEAD", redirect: "manual", signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return null;
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? (err as Error).message;
  }
};

const remembered = new Map<string, { at: number; why: Promise<string | null> }>();
function probeOnce(url: string, probe: Probe): Promise<string | null> {
  const hit = remembered.get(url);
  if (hit && Date.now() - hit.at < REMEMBER_MS) return hit.why;
  const why = probe(url);
  remembered.set(url, { at: Date.now(), why });
  return why;
}

const isRemote = (url: string) => /^https?:\/\//i.test(url);
/** The URL as it may be printed: credentials and tokens masked, as drains' are. */
const shown = maskDrainUrl;

/**
 * `ix` with pip's unreachable indexes left out (`say`: one line per index left out). When the
 * main index is out, the first extra index that answers takes its place; with none left but
 * find-links, pip looks there only (PIP_NO_INDEX).
 */
export async function withReachablePipIndexes(ix: PackageIndexes, say: (line: string) => void, probe: Probe = fetchProbe): Promise<PackageIndexes> {
  const env = ix.env;
  if (env.PIP_NO_INDEX || env.PIP_PROXY || process.env.https_proxy || process.env.HTTPS_PROXY) return ix;
  const main = env.PIP_INDEX_URL ?? PIP_DEFAULT_INDEX;
  const extras = (env.PIP_EXTRA_INDEX_URL ?? "").split(/\s+/).filter(Boolean);
  const all = [main, ...extras];
  const why = await Promise.all(all.map((u) => (isRemote(u) ? probeOnce(u, probe) : Promise.resolve(null))));
  const kept = all.filter((_, i) => why[i] === null);
  if (kept.length === all.length) return ix;
  if (kept.length === 0 && !env.PIP_FIND_LINKS) {
    say(`Warning: none of pip's indexes answers from this host (${all.map((u, i) => `${shown(u)}: ${why[i]}`).join("; ")}); installs will fail unless they come back`);
    return ix;
  }
  for (const [i, u] of all.entries()) if (why[i] !== null) say(`pip index ${shown(u)} does not answer from this host (${why[i]}): left out of this build`);
  const next: Record<string, string> = { ...env };
  delete next.PIP_INDEX_URL;
  delete next.PIP_EXTRA_INDEX_URL;
  if (kept.length === 0) next.PIP_NO_INDEX = "1";
  else {
    next.PIP_INDEX_URL = kept[0];
    if (kept.length > 1) next.PIP_EXTRA_INDEX_URL = kept.slice(1).join(" ");
  }
  return { ...ix, env: next };
}
