/**
 * receive: the pushed tree, streamed from the web app's internal API
 * (GET /internal/builds/<id>/source, with the worker token) straight into tar's
 * extractor in the work dir. Nothing is held whole in memory, and the worker
 * needs no access to the web app's data dir, so it can run on any host.
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

export const receive: Step<ReceiveInput, { bytes: number }> = {
  name: "receive",
  async run({ buildId, dir, log }) {
    log.step("Receiving the source");
    const res = await fetch(sourceUrl(buildId), { headers: { [WORKER_TOKEN_HEADER]: workerToken() } });
    if (!res.ok || !res.body) {
      const body = await res.text().catch(() => "");
      let reason = body.trim() || `HTTP ${res.status}`;
      try {
        reason = (JSON.parse(body) as { error?: string }).error ?? reason;
      } catch {}
      // Not the pusher's doing: an internal error, with the web app's reason for the operator.
      throw new Error(`fetching the source of build ${buildId} failed (${res.status}): ${reason}`);
    }
    let bytes = 0;
    const counted = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    counted.on("data", (chunk: Buffer) => (bytes += chunk.length));
    await pipeline(counted, tar.x({ cwd: dir }) as unknown as NodeJS.WritableStream);
    log.info(`${(bytes / 2 ** 20).toFixed(1)} MB unpacked`);
    return { bytes };
  },
};
