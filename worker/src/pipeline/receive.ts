/**
 * receive: the pushed tree, streamed from the web app's internal API
 * (GET /internal/builds/<id>/source, with the worker token) straight into tar's
 * extractor in the work dir. Nothing is held whole in memory, and the worker
 * needs no access to the web app's data dir, so it can run on any host.
 * Once the build is final, discardSource tells the web app it may delete it.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import * as tar from "tar";
import { config, WORKER_TOKEN_HEADER, workerToken } from "@paas/shared";
import type { BuildLog } from "../build-log.ts";
import type { Step } from "./runner.ts";

export interface ReceiveInput {
  buildId: string;
  /** An empty directory to unpack into. */
  dir: string;
  log: BuildLog;
}

/** The source's URL on the web app; `base` defaults to the platform's internal URL. */
export const sourceUrl = (buildId: string, base = config().internalUrl) =>
  new URL(`/internal/builds/${encodeURIComponent(buildId)}/source`, base).toString();

const reasonOf = async (res: Response) => {
  const body = await res.text().catch(() => "");
  try {
    return (JSON.parse(body) as { error?: string }).error ?? (body.trim() || `HTTP ${res.status}`);
  } catch {
    return body.trim() || `HTTP ${res.status}`;
  }
};

export const receive: Step<ReceiveInput, { bytes: number }> = {
  name: "receive",
  async run({ buildId, dir, log }) {
    log.step("Receiving the source");
    // identity: a tar is fetched as stored; decoding a compressed one costs CPU and memory.
    const res = await fetch(sourceUrl(buildId), { headers: { [WORKER_TOKEN_HEADER]: workerToken(), "accept-encoding": "identity" } });
    if (!res.ok || !res.body) {
      // Not the pusher's doing: an internal error, with the web app's reason for the operator.
      throw new Error(`fetching the source of build ${buildId} failed (${res.status}): ${await reasonOf(res)}`);
    }
    let bytes = 0;
    const counted = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    counted.on("data", (chunk: Buffer) => (bytes += chunk.length));
    await pipeline(counted, tar.x({ cwd: dir }) as unknown as NodeJS.WritableStream);
    log.info(`${(bytes / 2 ** 20).toFixed(1)} MB unpacked`);
    return { bytes };
  },
};

/**
 * The build is final (succeeded, failed or superseded): its source goes from the web app's
 * data dir. Called by the job, not by the build, so a build that throws is covered too.
 */
export async function discardSource(buildId: string, base?: string): Promise<void> {
  const res = await fetch(sourceUrl(buildId, base), { method: "DELETE", headers: { [WORKER_TOKEN_HEADER]: workerToken() } });
  if (!res.ok) throw new Error(`deleting the source of build ${buildId} failed (${res.status}): ${await reasonOf(res)}`);
}
