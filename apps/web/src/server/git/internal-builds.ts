/**
 * The internal API the pre-receive hook talks to (routes under /internal):
 *
 * POST /internal/pushes
 *   header x-paas-push-token; body: pre-receive's stdin (`<old> <new> <ref>` lines)
 *   -> 200 PushDecision (branch-policy.ts), decided from the app's settings and kept
 *      with the push token: the routes below act on it, not on anything the hook says.
 *
 * POST /internal/builds?message=<subject>
 *   header x-paas-push-token; body: `git archive --format=tar <the decided commit>`
 *   -> 201 {"buildId": "..."}: the Build row (pending) exists, the tarball is at
 *      buildSourcePath(dataDir, buildId) and the job is queued.
 *   -> 413 when the tarball is over PAAS_MAX_PUSH_BYTES: nothing is made (no Build row).
 *   -> 4xx/5xx {"error": "..."} otherwise (one line a pusher can act on).
 *
 * GET /internal/builds/<id>/source
 *   header x-paas-worker-token (shared/worker-token.ts) -> 200 application/x-tar, streamed
 *   from the data dir: the worker needs no access to it.
 * DELETE /internal/builds/<id>/source
 *   header x-paas-worker-token -> 204: the worker is done with it (the build is final);
 *   removing one already gone is not an error.
 *
 * GET /internal/builds/<id>/log?follow=1[&after=<stream id>]
 *   header x-paas-push-token (the token that created this build) or an API
 *   token (Authorization) that may read the build's app
 *   -> 200 application/x-ndjson, see build-log.ts.
 */
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import { db } from "@paas/db";
import { buildSourcePath, config, isWorkerToken, WORKER_TOKEN_HEADER } from "@paas/shared";
import { authenticateToken, tokenFromAuthorization } from "../auth.ts";
import { readableBuild } from "../authz.ts";
import { enqueueBuild } from "../queue.ts";
import { destroyPreview, ensurePreviewApp, PreviewError, previewUrl } from "../previews.ts";
import { assertBuildMinutes, QuotaError } from "@paas/db/quotas";
import { buildLogStream } from "./build-log.ts";
import { decidePush, parseUpdates, type RefUpdate } from "./branch-policy.ts";
import { bindPushToken, claimPushToken, readPushToken, recordDecision, type PushGrant } from "./push-tokens.ts";
import { outcomeOf, recordAudit } from "../audit/record.ts";

export const PUSH_TOKEN_HEADER = "x-paas-push-token";

function json(status: number, body: unknown): Response {
  return Response.json(body, { status, headers: { "cache-control": "no-store" } });
}

const createQuery = z.object({ message: z.string().max(2000).default("") });

/** Pre-receive's stdin is a few lines per ref; anything near this is not one. */
const MAX_UPDATES_BYTES = 64 * 1024;

/** A push's change in the audit log, as its pusher (the push token carries who, with which token, from where). */
async function auditPush(grant: PushGrant, action: string, appId: string, details: Record<string, unknown>, outcome = "ok"): Promise<void> {
  const [user, app] = await Promise.all([
    db.user.findUnique({ where: { id: grant.userId } }),
    db.app.findUnique({ where: { id: appId }, include: { team: true } }),
  ]);
  await recordAudit({
    principal: user ? { userId: user.id, email: user.email, tokenId: grant.tokenId ?? "" } : null,
    address: grant.address ?? null,
    action,
    team: app?.team ?? null,
    app: app?.name ?? grant.app,
    details,
    outcome,
  });
}

export async function decidePushFromHook(req: Request): Promise<Response> {
  const token = req.headers.get(PUSH_TOKEN_HEADER);
  const grant = await readPushToken(token);
  if (!token || !grant) return json(401, { error: "invalid or expired push token: push again" });
  const text = await req.text();
  if (text.length > MAX_UPDATES_BYTES) return json(413, { error: "too many ref updates in one push" });
  let updates: RefUpdate[];
  try {
    updates = parseUpdates(text);
  } catch (err) {
    return json(400, { error: `the body must be pre-receive's ref updates: ${(err as Error).message}` });
  }
  const app = await db.app.findUnique({ where: { id: grant.appId } });
  if (!app) return json(404, { error: `app ${grant.app} no longer exists` });
  const decision = decidePush(updates, app);
  if (!(await recordDecision(token, decision))) return json(409, { error: "this push has been decided already" });
  return json(200, decision);
}

/** A push over the size limit: said with the limit and what to do. */
class PushTooLarge extends Error {}

const byteSize = (bytes: number) => (bytes < 2 ** 20 ? `${bytes} bytes` : `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 ? 1 : 0)} MB`);

/**
 * Streams the pushed tarball to `file` (never whole in memory), refusing it
 * the moment it passes the limit.
 */
async function receiveSource(body: ReadableStream<Uint8Array>, file: string): Promise<void> {
  const limit = config().maxPushBytes;
  let size = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > limit) {
        cb(
          new PushTooLarge(
            `the pushed tree is over this platform's limit of ${byteSize(limit)} (PAAS_MAX_PUSH_BYTES); ` +
              "keep build output, dependencies and large files out of git, or ask the operator to raise the limit",
          ),
        );
      } else cb(null, chunk);
    },
  });
  await mkdir(path.dirname(file), { recursive: true });
  await pipeline(Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>), cap, createWriteStream(file));
}

export async function createBuildFromPush(req: Request): Promise<Response> {
  const token = req.headers.get(PUSH_TOKEN_HEADER);
  const grant = await readPushToken(token);
  if (!token || !grant) return json(401, { error: "invalid or expired push token: push again" });
  const url = new URL(req.url);
  const q = createQuery.safeParse(Object.fromEntries(url.searchParams));
  if (!q.success) return json(400, { error: q.error.issues.map((i) => i.message).join("; ") });
  const decided = grant.decision;
  if (decided?.action !== "deploy" && decided?.action !== "preview") {
    return json(409, { error: "this push was not decided as a deploy (POST /internal/pushes first)" });
  }
  if (!req.body) return json(400, { error: "the request body must be the source tarball" });
  if (!(await claimPushToken(token))) return json(409, { error: "this push has already created its build" });

  // The team's build minutes of the day (the worker checks again when the build starts).
  const pushed = await db.app.findUnique({ where: { id: grant.appId }, include: { team: true } });
  if (pushed) {
    try {
      await assertBuildMinutes(db, pushed.team);
    } catch (err) {
      if (err instanceof QuotaError) {
        await auditPush(grant, "git.push", grant.appId, { branch: decided.branch, commit: decided.update.newSha }, outcomeOf(err));
        return json(403, { error: err.message });
      }
      throw err;
    }
  }

  // The source first: a push refused for its size leaves no build (and no new preview app) behind.
  const part = buildSourcePath(config().dataDir, `incoming-${randomUUID()}`);
  try {
    await receiveSource(req.body, part);
  } catch (err) {
    await rm(part, { force: true });
    if (err instanceof PushTooLarge) return json(413, { error: err.message });
    return json(500, { error: `could not store the source: ${(err as Error).message}` });
  }

  let appId = grant.appId;
  let preview: string | undefined;
  if (decided.action === "preview") {
    try {
      const p = await ensurePreviewApp(grant.appId, decided.branch);
      appId = p.app.id;
      preview = previewUrl(p.label, grant.app);
    } catch (err) {
      await rm(part, { force: true });
      if (err instanceof PreviewError) return json(400, { error: err.message });
      if (err instanceof QuotaError) {
        await auditPush(grant, "git.push", grant.appId, { branch: decided.branch, commit: decided.update.newSha }, outcomeOf(err));
        return json(403, { error: err.message });
      }
      throw err;
    }
  }

  const build = await db.build.create({
    data: {
      appId,
      userId: grant.userId,
      commit: decided.update.newSha,
      message: q.data.message.split("\n")[0] || null,
      status: "pending",
    },
  });
  const fail = async (status: number, error: string) => {
    // No worker will fetch this build's source: it must not stay in the data dir.
    await rm(buildSourcePath(config().dataDir, build.id), { force: true });
    await db.build
      .update({ where: { id: build.id }, data: { status: "failed", error, finishedAt: new Date() } })
      .catch(() => {});
    return json(status, { error });
  };
  try {
    await rename(part, buildSourcePath(config().dataDir, build.id));
  } catch (err) {
    await rm(part, { force: true });
    return fail(500, `could not store the source: ${(err as Error).message}`);
  }

  try {
    await enqueueBuild(build.id);
  } catch (err) {
    return fail(503, `could not queue the build (is Redis running?): ${(err as Error).message}`);
  }
  await bindPushToken(token, build.id);
  await auditPush(grant, "git.push", appId, { branch: decided.branch, commit: decided.update.newSha, build: build.id, ...(preview ? { preview } : {}) });
  return json(201, { buildId: build.id, ...(preview ? { previewUrl: preview } : {}) });
}

/** DELETE /internal/previews: `git push paas :<b>` removes that preview app (as the push was decided). */
export async function deletePreviewFromPush(req: Request): Promise<Response> {
  const token = req.headers.get(PUSH_TOKEN_HEADER);
  const grant = await readPushToken(token);
  if (!token || !grant) return json(401, { error: "invalid or expired push token: push again" });
  if (grant.decision?.action !== "destroy-preview") {
    return json(409, { error: "this push was not decided as a preview's removal (POST /internal/pushes first)" });
  }
  try {
    const message = await destroyPreview(grant.appId, grant.decision.branch);
    await auditPush(grant, "git.push.destroy-preview", grant.appId, { branch: grant.decision.branch });
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

/** The worker's credential and a well-formed id, or the response refusing them. */
function workerSourceRequest(req: Request, buildId: string): Response | null {
  if (!isWorkerToken(req.headers.get(WORKER_TOKEN_HEADER))) {
    return json(401, { error: `a worker token is required (header ${WORKER_TOKEN_HEADER}; the web app's <data dir>/worker-token)` });
  }
  if (!/^[A-Za-z0-9_-]+$/.test(buildId)) return json(400, { error: "not a build id" });
  return null;
}

/** The source tarball of a build, for a worker (which may run on another host, with its own data dir). */
export async function buildSourceResponse(req: Request, buildId: string): Promise<Response> {
  const refused = workerSourceRequest(req, buildId);
  if (refused) return refused;
  const file = buildSourcePath(config().dataDir, buildId);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    return json(404, { error: `build ${buildId} has no source here (never received, or removed)` });
  }
  const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
  return new Response(body, {
    // no-transform: Next's server would gzip a tar on the fly for a client that accepts it
    // (the worker's fetch does): 150 MB took minutes at one core, and the worker's decoder
    // held what it had not yet unpacked (+300 MB of RSS).
    headers: { "content-type": "application/x-tar", "content-length": String(size), "cache-control": "no-store, no-transform" },
  });
}

/**
 * A worker is done with a build's source (the build is final): it goes from the data dir.
 * Not at the end of the GET: a worker that dies mid-build leaves the job to be run again,
 * and that run fetches the source again.
 */
export async function deleteBuildSourceResponse(req: Request, buildId: string): Promise<Response> {
  const refused = workerSourceRequest(req, buildId);
  if (refused) return refused;
  await rm(buildSourcePath(config().dataDir, buildId), { force: true });
  return new Response(null, { status: 204 });
}
