/**
 * The host agent's HTTP API (routes and types: packages/shared/src/agent-api.ts).
 * `createAgentServer(runtime)` returns a node:http server; main.ts listens on 127.0.0.1.
 */
import http from "node:http";
import os from "node:os";
import type { AgentHealth, ContainerSpec, TeamLimits } from "@paas/shared/agent-api";
import type { Runtime } from "../containers.ts";
import type { VolumeSpec } from "@paas/shared/agent-api";
import { loadImages, openImagePath, saveImages } from "../oci.ts";
import { RuntimeError } from "../util.ts";

const MAX_JSON = 1 << 20;

function send(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += c.length;
    if (size > MAX_JSON) throw new RuntimeError("request body too large (1 MiB at most)", 413);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new RuntimeError("the request body is not valid JSON", 400);
  }
}

function num(v: string | null, name: string, fallback: number): number {
  if (v === null || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new RuntimeError(`${name} must be a non-negative number`, 400);
  return n;
}

function numericId(v: string, name: string): number {
  const n = Number(v);
  if (!/^\d{1,10}$/.test(v) || n > 0xfffffffe) throw new RuntimeError(`${name} must be a numeric id (0..4294967294), got "${v}"`, 400);
  return n;
}

export function createAgentServer(rt: Runtime, opts: { keepaliveMs?: number } = {}): http.Server {
  const KEEPALIVE_MS = opts.keepaliveMs ?? 30_000;
  const health = (): AgentHealth => ({
    ok: true,
    hostname: os.hostname(),
    cgroupDriver: rt.cgroups.kind,
    memoryBytes: os.totalmem(),
    cpus: os.cpus().length,
  });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://agent");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const m = req.method ?? "GET";
    if (parts[0] !== "v1") throw new RuntimeError(`no route ${m} ${url.pathname}`, 404);
    const [, kind, id, action] = parts;

    if (kind === "health" && parts.length === 2 && m === "GET") return send(res, 200, health());

    if (kind === "images") {
      if (parts.length === 2 && m === "GET") return send(res, 200, rt.images.list());
      // POST /v1/images/<verb>: no route posts to an image by name, so these never shadow one.
      if (parts.length === 3 && m === "POST") {
        if (id === "prune") return send(res, 200, rt.images.prune(rt.inUse()));
        if (id === "load") {
          const name = url.searchParams.get("name") ?? undefined;
          return send(res, 201, await loadImages(rt.images, req, { name }));
        }
        if (id === "save") {
          const body = (await readJsonBody(req)) as { refs?: unknown; gzip?: boolean } | undefined;
          const refs = body?.refs;
          if (!Array.isArray(refs) || !refs.length || !refs.every((r) => typeof r === "string")) {
            throw new RuntimeError('POST /v1/images/save needs a body { "refs": ["repo:tag", ...], "gzip"?: true }', 400);
          }
          for (const r of refs) rt.images.resolve(r); // 404 before the stream starts
          res.writeHead(200, { "content-type": "application/x-tar" });
          await saveImages(rt.images, refs, res, { gzip: !!body?.gzip });
          return;
        }
      }
      if (parts.length === 3 && m === "GET") return send(res, 200, rt.images.resolve(id));
      if (parts.length === 3 && m === "DELETE") return send(res, 200, { removed: rt.removeImage(id, ["1", "true"].includes(url.searchParams.get("force") ?? "")) });
      if (parts.length === 4) {
        if (action === "history" && m === "GET") return send(res, 200, rt.images.history(id));
        if (action === "tag" && m === "POST") {
          const body = (await readJsonBody(req)) as { name?: unknown } | undefined;
          if (typeof body?.name !== "string") throw new RuntimeError('tag needs a body { "name": "repo:tag" }', 400);
          return send(res, 201, rt.images.tagImage(id, body.name));
        }
        // GET: the files as a tar; HEAD: only whether the path is there and its kind (docker's stat).
        if (action === "archive" && (m === "GET" || m === "HEAD")) {
          const at = url.searchParams.get("path");
          if (!at) throw new RuntimeError("archive needs ?path=/dir/or/file", 400);
          const src = await openImagePath(rt.images, id, at, { follow: ["1", "true"].includes(url.searchParams.get("follow") ?? "") });
          try {
            res.writeHead(200, { "content-type": "application/x-tar", "x-paas-path-kind": src.kind });
            if (m === "HEAD") return void res.end();
            await src.write(res);
          } catch (err) {
            // A reader that hung up is no error of ours.
            if (!res.destroyed) throw err;
          } finally {
            src.close();
          }
          return;
        }
      }
    }

    if (kind === "cgroups" && parts.length === 3) {
      if (m === "GET") return send(res, 200, rt.teamLimits(id));
      if (m === "PUT") return send(res, 200, rt.setTeamLimits(id, (await readJsonBody(req)) as TeamLimits));
    }

    if (kind === "volumes") {
      if (parts.length === 2 && m === "GET") return send(res, 200, rt.volumes.list());
      if (parts.length === 2 && m === "POST") {
        const body = (await readJsonBody(req)) as VolumeSpec | undefined;
        if (!body || typeof body.name !== "string") throw new RuntimeError('POST /v1/volumes needs a body { "name": "...", "sizeBytes"?: N }', 400);
        return send(res, 201, await rt.volumes.create(body.name, { sizeBytes: body.sizeBytes, labels: body.labels }));
      }
      if (parts.length === 3 && m === "GET") return send(res, 200, rt.volumes.get(id));
      if (parts.length === 3 && m === "DELETE") {
        await rt.removeVolume(id);
        return send(res, 200, { ok: true });
      }
    }

    if (kind === "containers") {
      if (parts.length === 2 && m === "GET") return send(res, 200, rt.list());
      if (parts.length === 2 && m === "POST") {
        const spec = (await readJsonBody(req)) as ContainerSpec;
        if (!spec || typeof spec !== "object") throw new RuntimeError("POST /v1/containers needs a ContainerSpec body", 400);
        return send(res, 201, rt.create(spec));
      }
      if (parts.length === 3 && m === "GET") return send(res, 200, rt.get(id));
      if (parts.length === 3 && m === "DELETE") {
        await rt.remove(id, { force: url.searchParams.get("force") === "1" || url.searchParams.get("force") === "true" });
        return send(res, 200, { ok: true });
      }
      if (parts.length === 4) {
        if (action === "archive" && m === "PUT") {
          const dest = url.searchParams.get("path");
          if (!dest) throw new RuntimeError("archive needs ?path=/dir", 400);
          // ?uid=N[&gid=M] (gid defaults to uid): who owns the files, as COPY --chown says.
          const uid = url.searchParams.get("uid");
          const gid = url.searchParams.get("gid") ?? uid;
          if (uid === null && gid !== null) throw new RuntimeError("archive ?gid= needs ?uid= too", 400);
          const owner = uid === null ? undefined : { uid: numericId(uid, "uid"), gid: numericId(gid!, "gid") };
          await rt.putArchive(id, dest, req, owner);
          return send(res, 200, { ok: true });
        }
        if (action === "start" && m === "POST") return send(res, 200, await rt.start(id));
        if (action === "pause" && m === "POST") return send(res, 200, await rt.pause(id));
        if (action === "unpause" && m === "POST") return send(res, 200, await rt.unpause(id));
        if (action === "stop" && m === "POST") return send(res, 200, await rt.stop(id, num(url.searchParams.get("timeout"), "timeout", 10)));
        if (action === "wait" && m === "POST") {
          // Errors a caller can fix come before the headers; after them, only the result.
          if (rt.get(id).state === "created") throw new RuntimeError(`container ${id} was never started`, 409);
          const ac = new AbortController();
          res.on("close", () => ac.abort());
          res.writeHead(200, { "content-type": "application/json" });
          res.flushHeaders();
          // fetch (undici) gives up on a body silent for 300 s; JSON allows leading spaces.
          const keepalive = setInterval(() => res.write(" "), KEEPALIVE_MS);
          try {
            const result = await rt.wait(id, ac.signal);
            if (result.oomKilled) {
              const c = rt.get(id);
              const team = rt.teamOf(id);
              const teamMem = rt.teamLimits(team).memoryBytes;
              console.error(`agent: container ${c.name} (${c.id.slice(0, 12)}) was OOM-killed: memory limit ${result.memoryLimitBytes} bytes${teamMem ? `, team ${team}'s ${teamMem} bytes` : ""}`);
            }
            res.end(JSON.stringify(result));
          } catch (err) {
            res.end(JSON.stringify({ error: (err as Error).message }));
          } finally {
            clearInterval(keepalive);
          }
          return;
        }
        if (action === "commit" && m === "POST") {
          const body = (await readJsonBody(req)) as { name?: string; config?: object } | undefined;
          if (!body?.name) throw new RuntimeError('commit needs a body { "name": "repo:tag" }', 400);
          return send(res, 201, await rt.commit(id, body.name, body.config));
        }
        if (action === "logs" && m === "GET") {
          const follow = ["1", "true"].includes(url.searchParams.get("follow") ?? "");
          const tailRaw = url.searchParams.get("tail");
          const tail = tailRaw === null ? undefined : num(tailRaw, "tail", 0);
          rt.get(id); // 404 before the stream starts
          const ac = new AbortController();
          res.on("close", () => ac.abort());
          res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache" });
          res.flushHeaders();
          // Empty lines keep a quiet stream (a long npm install) from timing out; readers skip them.
          const keepalive = setInterval(() => res.write("\n"), KEEPALIVE_MS);
          res.on("close", () => clearInterval(keepalive));
          for await (const line of rt.logLines(id, { follow, tail, signal: ac.signal })) {
            if (ac.signal.aborted) break;
            res.write(line + "\n");
          }
          clearInterval(keepalive);
          res.end();
          return;
        }
      }
    }
    throw new RuntimeError(`no route ${m} ${url.pathname}`, 404);
  };

  return http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      const status = err instanceof RuntimeError ? err.status : 500;
      if (status >= 500) console.error(`agent: ${req.method} ${req.url}: ${(err as Error).stack ?? err}`);
      // Drain what the client still sends (a tar upload) so it sees our answer.
      req.resume();
      if (res.headersSent) res.end();
      else send(res, status, { error: (err as Error).message });
    });
  });
}
