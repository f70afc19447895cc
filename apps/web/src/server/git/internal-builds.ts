/**
 * The internal API the pre-receive hook talks to (routes under /internal):
 *
 * POST /internal/builds?commit=<sha>&message=<subject>
 *   header x-paas-push-token: <PAAS_PUSH_TOKEN>; body: `git archive --format=tar <sha>`
 *   -> 201 {"buildId": "..."}: the Build row (pending) exists, the tarball is at
 *      buildSourcePath(dataDir, buildId) and the job is queued.
 *   -> 4xx/5xx {"error": "..."} otherwise (one line a pusher can act on).
 *
 * GET /internal/builds/<id>/log?follow=1[&after=<stream id>]
 *   header x-paas-push-token (the token that created this build) or an API
 *   token (Authorization) that may read the build's app
 *   -> 200 application/x-ndjson, see build-log.ts.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import { db } from "@paas/db";
import { buildSourcePath, config } from "@paas/shared";
import { authenticateToken, tokenFromAuthorization } from "../auth.ts";
import { readableBuild } from "../authz.ts";
import { enqueueBuild } from "../queue.ts";
import { destroyPreview, ensurePreviewApp, PreviewError, previewUrl } from "../previews.ts";
import { QuotaError } from "@paas/db/quotas";
import { buildLogStream } from "./build-log.ts";
import { bindPushToken, claimPushToken, readPushToken } from "./push-tokens.ts";

export const PUSH_TOKEN_HEADER = "x-paas-push-token";

function json(status: number, body: unknown): Response {
  return Response.json(body, { status, headers: { "cache-control": "no-store" } });
}

const createQuery = z.object({
  commit: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "commit must be a full hex object id"),
  message: z.string().max(2000).default(""),
  /** A branch other than the deploy branch: the build deploys its preview app. */
  branch: z.string().max(255).optional(),
});

/** Source tarballs above this are refused (PAAS_MAX_SOURCE_MB, default 512). */
function maxSourceBytes(): number {
  const mb = Number(process.env.PAAS_MAX_SOURCE_MB || 512);
  return (Number.isFinite(mb) && mb > 0 ? mb : 512) * 1024 * 1024;
}

export async function createBuildFromPush(req: Request): Promise<Response> {
  const token = req.headers.get(PUSH_TOKEN_HEADER);
  const grant = await readPushToken(token);
  if (!token || !grant) return json(401, { error: "invalid or expired push token: push again" });
  const url = new URL(req.url);
  const q = createQuery.safeParse(Object.fromEntries(url.searchParams));
  if (!q.success) return json(400, { error: q.error.issues.map((i) => i.message).join("; ") });
  if (!req.body) return json(400, { error: "the request body must be the source tarball" });
  if (!(await claimPushToken(token))) return json(409, { error: "this push has already created its build" });

  let appId = grant.appId;
  let preview: string | undefined;
  if (q.data.branch) {
    try {
      const p = await ensurePreviewApp(grant.appId, q.data.branch);
      appId = p.app.id;
      preview = previewUrl(p.label, grant.app);
    } catch (err) {
      if (err instanceof PreviewError) return json(400, { error: err.message });
      if (err instanceof QuotaError) return json(403, { error: err.message });
      throw err;
    }
  }

  const build = await db.build.create({
    data: {
      appId,
      userId: grant.userId,
      commit: q.data.commit,
      message: q.data.message.split("\n")[0] || null,
      status: "pending",
    },
  });
  const fail = async (status: number, error: string) => {
    await db.build
      .update({ where: { id: build.id }, data: { status: "failed", error, finishedAt: new Date() } })
      .catch(() => {});
    return json(status, { error });
  };

  const dest = buildSourcePath(config().dataDir, build.id);
  const tmp = `${dest}.part`;
  try {
    await mkdir(path.dirname(dest), { recursive: true });
    let size = 0;
    const limit = maxSourceBytes();
    const cap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > limit) cb(new Error(`the source is larger than ${limit / 1024 / 1024} MB (PAAS_MAX_SOURCE_MB)`));
        else cb(null, chunk);
      },
    });
    const body = Readable.fromWeb(req.body as import("node:stream/web").ReadableStream<Uint8Array>);
    await pipeline(body, cap, createWriteStream(tmp));
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    return fail(500, `could not store the source: ${(err as Error).message}`);
  }

  try {
    await enqueueBuild(build.id);
  } catch (err) {
    return fail(503, `could not queue the build (is Redis running?): ${(err as Error).message}`);
  }
  await bindPushToken(token, build.id);
  return json(201, { buildId: build.id, ...(preview ? { previewUrl: preview } : {}) });
}

/** DELETE /internal/previews?branch=<b>: `git push paas :<b>` removes that preview app. */
export async function deletePreviewFromPush(req: Request): Promise<Response> {
  const token = req.headers.get(PUSH_TOKEN_HEADER);
  const grant = await readPushToken(token);
  if (!token || !grant) return json(401, { error: "invalid or expired push token: push again" });
  const branch = new URL(req.url).searchParams.get("branch") ?? "";
  try {
    const message = await destroyPreview(grant.appId, branch);
    return json(200, { message });
  } catch (err) {
    if (err instanceof PreviewError) return json(400, { error: err.message });
    throw err;
  }
}

const logQuery = z.object({
  follow: z.enum(["0", "1", "true", "false"]).optional(),
  after: z
    .string()
    .regex(/^(0|\d+-\d+)$/, "after must be a stream id like 1700000000000-0")
    .optional(),
});

export async function buildLogResponse(req: Request, buildId: string): Promise<Response> {
  const url = new URL(req.url);
  const q = logQuery.safeParse(Object.fromEntries(url.searchParams));
  if (!q.success) return json(400, { error: q.error.issues.map((i) => i.message).join("; ") });

  const pushToken = req.headers.get(PUSH_TOKEN_HEADER);
  const apiToken = tokenFromAuthorization(req.headers.get("authorization"));
  if (!pushToken && !apiToken) return json(401, { error: "authentication required: pass an API token" });

  // The pusher's grant covers its own build; else an API token with read rights on its app.
  let build = pushToken && (await readPushToken(pushToken))?.buildId === buildId ? await db.build.findUnique({ where: { id: buildId } }) : null;
  if (!build && apiToken) {
    const principal = await authenticateToken(apiToken);
    if (!principal) return json(401, { error: "invalid or expired token" });
    build = await readableBuild(principal, buildId);
  }
  if (!build) return json(404, { error: "build not found" });

  const follow = q.data.follow === "1" || q.data.follow === "true";
  return new Response(buildLogStream(build.id, { follow, after: q.data.after }), {
    headers: {
      "content-type": "application/x-ndjson; charset=utf-8",
      // no-transform: compression would hold lines back until a buffer fills.
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
