/**
 * The host agent's HTTP API (routes and types: packages/shared/src/agent-api.ts).
 * `createAgentServer(runtime, { token })` returns a node:http server; main.ts listens on
 * PAAS_AGENT_HOST (127.0.0.1 by default). With a token, every route needs it as a bearer token.
 */
import http from "node:http";
import os from "node:os";
import { type Duplex, PassThrough, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type AgentHealth,
  CommitRequestSchema,
  ContainerSpecSchema,
  EXEC_PROTOCOL,
  ExecRequestSchema,
  encodeFrame,
  frameReader,
  HealthCheckRequestSchema,
  type Parsed,
  PathParams,
  Queries,
  RebaseRequestSchema,
  type RequestSchema,
  SaveRequestSchema,
  TagRequestSchema,
  TeamLimitsSchema,
  VolumeSpecSchema,
  parseRequest,
} from "@paas/shared/agent-api";
import type { Runtime } from "../containers.ts";
import { RuntimeError } from "../util.ts";
import { bearerCheck } from "./auth.ts";
import { waitHealthy } from "./health.ts";
import { metricsTargets, relayContainerMetrics, renderHostMetrics } from "./metrics.ts";

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

/** A body or query as its schema in the API contract says, or a 400 naming each wrong field. */
function parse<S extends RequestSchema>(schema: S, value: unknown, where: string): Parsed<S> {
  const r = parseRequest(schema, value, where);
  if (!r.ok) throw new RuntimeError(r.error, 400);
  return r.data;
}

async function body<S extends RequestSchema>(req: http.IncomingMessage, schema: S, where = "body"): Promise<Parsed<S>> {
  return parse(schema, await readJsonBody(req), where);
}

function query<S extends RequestSchema>(url: URL, schema: S): Parsed<S> {
  return parse(schema, Object.fromEntries(url.searchParams), "query");
}

/**
 * A tar answer. Errors found before the first byte (a path that is not there) are statuses;
 * after it, the stream is cut, which a tar reader sees as a truncated archive.
 */
async function streamTar(res: http.ServerResponse, write: (out: Writable) => Promise<unknown>) {
  const body = new PassThrough();
  body.on("error", () => {}); // its error is work's, thrown below (pipeline sees it too)
  const work = write(body).then(
    () => void body.end(),
    (err) => {
      body.destroy(err as Error);
      throw err;
    },
  );
  work.catch(() => {}); // awaited below, once the answer has begun
  await Promise.race([new Promise((r) => body.once("readable", r)), work]);
  res.writeHead(200, { "content-type": "application/x-tar" });
  try {
    await Promise.all([pipeline(body, res), work]);
  } catch (err) {
    // A reader that hung up (export | head) is no error of ours.
    if (!res.destroyed || res.writableFinished) throw err;
  }
}

/** The frames an exec's caller may send at once: stdin chunks are far smaller. */
const MAX_EXEC_FRAME = 1 << 20;

/**
 * POST /v1/containers/:id/exec with Upgrade: paas-exec/1 (the contract's EXEC_PROTOCOL): the
 * JSON body is read and checked, the command started, and only then 101; every error before
 * is an ordinary answer with its status. The connection then carries the frames.
 */
async function serveExec(rt: Runtime, req: http.IncomingMessage, socket: Duplex, head: Buffer, id: string) {
  const length = Number(req.headers["content-length"] ?? 0);
  if (!Number.isInteger(length) || length > MAX_JSON) throw new RuntimeError("exec: the request body must have a content-length of at most 1 MiB", 413);
  let raw = head;
  while (raw.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const done = () => (socket.off("data", onData), socket.off("end", onEnd), socket.off("close", onEnd));
      const onData = (c: Buffer) => (done(), socket.pause(), resolve(c));
      const onEnd = () => (done(), resolve(null));
      socket.on("data", onData).on("end", onEnd).on("close", onEnd);
      socket.resume();
    });
    if (!chunk) return socket.destroy();
    raw = Buffer.concat([raw, chunk]);
  }
  const rest = raw.subarray(length); // frames the caller sent right behind its body
  let json: unknown;
  try {
    json = JSON.parse(raw.subarray(0, length).toString("utf8"));
  } catch {
    throw new RuntimeError("the request body is not valid JSON", 400);
  }
  const spec = parse(ExecRequestSchema, json, "exec");
  const p = rt.exec(id, spec);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${EXEC_PROTOCOL}\r\n\r\n`);
  const send = (type: string, payload: Buffer | string = "") => {
    if (!socket.destroyed) socket.write(encodeFrame(type, payload));
  };
  p.stdout.on("data", (c: Buffer) => send("O", c));
  p.stderr.on("data", (c: Buffer) => send("E", c));
  const read = frameReader(
    (type, payload) => {
      if (type === "I") p.stdin.write(payload);
      else if (type === "C") p.stdin.end();
      else if (type === "W") {
        const [rows, cols] = payload.toString().split(" ").map(Number);
        if (rows > 0 && cols > 0) p.resize(rows, cols);
      }
    },
    () => socket.destroy(),
    MAX_EXEC_FRAME,
  );
  socket.on("data", read);
  socket.on("error", () => {});
  // With removeContainer the container goes with the command, once.
  let removing: Promise<void> | undefined;
  const removeContainer = () =>
    (removing ??= rt.remove(id, { force: true }).catch((err: Error) => console.error(`agent: exec: removing ${id} after its command: ${err.message}`)));
  // A caller that hung up ends the command's session (its terminal hangs up; its input ends);
  // without a terminal a command may outlive its helper (it holds the pipes), and removing the
  // container is what ends it for sure. The caller never half-closes (stdin's end is a C
  // frame), so its FIN is a hang-up too: the upgraded socket stays half-open, and 'close'
  // alone would wait for the command.
  const hangUp = () => {
    p.abort();
    if (spec.removeContainer) void removeContainer();
  };
  socket.on("end", hangUp);
  socket.on("close", hangUp);
  if (rest.length) read(rest);
  socket.resume();
  const code = await p.exit;
  // the output's last bytes before the code
  await Promise.all([p.stdout, p.stderr].map((s) => new Promise((r) => ((s as NodeJS.ReadableStream & { readableEnded: boolean }).readableEnded ? r(null) : s.once("end", r)))));
  send("X", String(code));
  socket.end();
  if (spec.removeContainer) await removeContainer();
}

export function createAgentServer(rt: Runtime, opts: { keepaliveMs?: number; token?: string } = {}): http.Server {
  const KEEPALIVE_MS = opts.keepaliveMs ?? 30_000;
  const authorized = bearerCheck(opts.token);
  /**
   * A JSON answer that may take minutes (wait, health). Errors a caller can fix come before
   * this, as statuses; after the headers there is only the result (or { error }). fetch
   * (undici) gives up on a body silent for 300 s, so spaces go out meanwhile (JSON allows them).
   */
  const longAnswer = async (res: http.ServerResponse, work: (signal: AbortSignal) => Promise<unknown>) => {
    const ac = new AbortController();
    res.on("close", () => ac.abort());
    res.writeHead(200, { "content-type": "application/json" });
    res.flushHeaders();
    const keepalive = setInterval(() => res.write(" "), KEEPALIVE_MS);
    try {
      res.end(JSON.stringify(await work(ac.signal)));
    } catch (err) {
      res.end(JSON.stringify({ error: (err as Error).message }));
    } finally {
      clearInterval(keepalive);
    }
  };
  const health = (): AgentHealth => ({
    ok: true,
    hostname: os.hostname(),
    cgroupDriver: rt.cgroupDriver,
    memoryBytes: os.totalmem(),
    cpus: os.cpus().length,
  });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    // Before anything is read or routed: a caller without the token learns nothing, changes nothing.
    if (!authorized(req.headers.authorization)) {
      throw new RuntimeError("this agent needs its token: send Authorization: Bearer <PAAS_AGENT_TOKEN> (the token was missing or wrong)", 401);
    }
    const url = new URL(req.url ?? "/", "http://agent");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const m = req.method ?? "GET";
    if (parts[0] !== "v1") throw new RuntimeError(`no route ${m} ${url.pathname}`, 404);
    const [, kind, id, action] = parts;

    if (kind === "health" && parts.length === 2 && m === "GET") return send(res, 200, health());
    if (kind === "metrics" && m === "GET") {
      if (parts.length === 2) {
        const text = renderHostMetrics(rt);
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": Buffer.byteLength(text) });
        return void res.end(text);
      }
      // Prometheus asks at the address it reaches this agent at, so that is the targets' address.
      if (parts.length === 3 && id === "targets") return send(res, 200, metricsTargets(rt, req.headers.host ?? "127.0.0.1"));
    }

    if (kind === "images") {
      if (parts.length === 2 && m === "GET") return send(res, 200, rt.images.list());
      // POST /v1/images/<verb>: no route posts to an image by name, so these never shadow one.
      if (parts.length === 3 && m === "POST") {
        if (id === "prune") return send(res, 200, rt.images.prune());
        if (id === "rebase") return send(res, 201, rt.images.rebase(await body(req, RebaseRequestSchema)));
        if (id === "import") {
          const q = query(url, Queries.import);
          return send(res, 201, await rt.images.importTar(req, q.name, q.config));
        }
        if (id === "load") {
          const { name } = query(url, Queries.load);
          return send(res, 201, await rt.images.load(req, { name }));
        }
        if (id === "save") {
          const { refs, gzip } = await body(req, SaveRequestSchema);
          for (const r of refs) rt.images.resolve(r); // 404 before the stream starts
          res.writeHead(200, { "content-type": "application/x-tar" });
          await rt.images.save(refs, res, { gzip: !!gzip });
          return;
        }
      }
      if (parts.length === 3 && m === "GET") return send(res, 200, rt.images.resolve(id));
      if (parts.length === 3 && m === "DELETE") return send(res, 200, { removed: rt.images.remove(id, !!query(url, Queries.force).force) });
      if (parts.length === 4) {
        if (action === "history" && m === "GET") return send(res, 200, rt.images.history(id));
        if (action === "tag" && m === "POST") {
          const { name } = await body(req, TagRequestSchema);
          return send(res, 201, rt.images.tag(id, name));
        }
        // GET: the files as a tar; HEAD: only whether the path is there and its kind (docker's stat).
        if (action === "archive" && (m === "GET" || m === "HEAD")) {
          const q = query(url, Queries.imageArchive);
          const src = await rt.images.openPath(id, q.path, { follow: !!q.follow });
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
      if (m === "PUT") return send(res, 200, rt.setTeamLimits(id, await body(req, TeamLimitsSchema, "team")));
    }
    if (kind === "cgroups" && parts.length === 4 && m === "DELETE") {
      return send(res, 200, rt.removeAppCgroup(parse(PathParams.team, id, "path.team"), parse(PathParams.team, action, "path.app")));
    }

    if (kind === "volumes") {
      if (parts.length === 2 && m === "GET") return send(res, 200, rt.volumeList());
      if (parts.length === 2 && m === "POST") {
        const spec = await body(req, VolumeSpecSchema, "volume");
        return send(res, 201, await rt.createVolume(spec.name, { sizeBytes: spec.sizeBytes, labels: spec.labels }));
      }
      if (parts.length === 3 && m === "GET") return send(res, 200, rt.volume(id));
      if (parts.length === 3 && m === "DELETE") {
        await rt.removeVolume(id);
        return send(res, 200, { ok: true });
      }
    }

    if (kind === "containers") {
      if (parts.length === 2 && m === "GET") return send(res, 200, rt.list());
      if (parts.length === 2 && m === "POST") {
        return send(res, 201, rt.create(await body(req, ContainerSpecSchema, "spec")));
      }
      if (parts.length === 3 && m === "GET") return send(res, 200, rt.get(id));
      if (parts.length === 3 && m === "DELETE") {
        await rt.remove(id, { force: !!query(url, Queries.force).force });
        return send(res, 200, { ok: true });
      }
      if (parts.length === 4) {
        if (action === "archive" && m === "PUT") {
          // ?uid=N[&gid=M] (gid defaults to uid): who owns the files, as COPY --chown says; a
          // build's step into a stopped container. Without: `cp`, into any state.
          const q = query(url, Queries.putArchive);
          if (q.uid === undefined) await rt.copyIn(id, q.path, req);
          else await rt.putArchive(id, q.path, req, { uid: q.uid, gid: q.gid ?? q.uid });
          return send(res, 200, { ok: true });
        }
        if (action === "archive" && m === "GET") {
          const q = query(url, Queries.containerArchive);
          rt.get(id); // 404 before the stream starts
          return streamTar(res, (out) => rt.getArchive(id, q.path, out));
        }
        if (action === "export" && m === "GET") {
          rt.get(id);
          return streamTar(res, (out) => rt.export(id, out));
        }
        if (action === "stats" && m === "GET") return send(res, 200, rt.stats(id));
        if (action === "top" && m === "GET") return send(res, 200, rt.top(id));
        if (action === "metrics" && m === "GET") return relayContainerMetrics(rt, id, res);
        if (action === "exec" && m === "POST") throw new RuntimeError(`exec is a stream: send Connection: Upgrade and Upgrade: ${EXEC_PROTOCOL} (AgentClient.exec does)`, 426);
        if (action === "start" && m === "POST") return send(res, 200, await rt.start(id));
        if (action === "pause" && m === "POST") return send(res, 200, await rt.pause(id));
        if (action === "unpause" && m === "POST") return send(res, 200, await rt.unpause(id));
        if (action === "kill" && m === "POST") return send(res, 200, await rt.kill(id, query(url, Queries.kill).signal ?? "SIGKILL"));
        if (action === "stop" && m === "POST") return send(res, 200, await rt.stop(id, query(url, Queries.stop).timeout ?? 10));
        if (action === "wait" && m === "POST") {
          if (rt.get(id).state === "created") throw new RuntimeError(`container ${id} was never started`, 409);
          return longAnswer(res, async (signal) => {
            const result = await rt.wait(id, signal);
            if (result.oomKilled) {
              const c = rt.get(id);
              const team = rt.teamOf(id);
              const teamMem = rt.teamLimits(team).memoryBytes;
              console.error(`agent: container ${c.name} (${c.id.slice(0, 12)}) was OOM-killed: memory limit ${result.memoryLimitBytes} bytes${teamMem ? `, team ${team}'s ${teamMem} bytes` : ""}`);
            }
            return result;
          });
        }
        if (action === "health" && m === "POST") {
          const check = await body(req, HealthCheckRequestSchema, "check");
          const c = rt.get(id);
          if (c.state === "created") throw new RuntimeError(`container ${id} was never started; start it before its health check`, 409);
          // A pod member answers on the address of the container whose network it joined.
          const ip = c.ip ?? (c.networkOf ? rt.get(c.networkOf).ip : undefined);
          if (!ip) throw new RuntimeError(`container ${id} has no address on the bridge (network "none"?); a health check needs network "bridge"`, 409);
          return longAnswer(res, (signal) =>
            waitHealthy(
              { host: ip, port: check.port },
              () => {
                const now = rt.get(id);
                if (now.state === "exited") return { exitCode: now.exitCode };
                // Restarted by its policy since the check began: it exited (the address it answers may differ now).
                return (now.restartCount ?? 0) > (c.restartCount ?? 0) ? {} : undefined;
              },
              check.timeoutMs,
              signal,
              check.checks,
            ),
          );
        }
        if (action === "commit" && m === "POST") {
          const { name, config } = await body(req, CommitRequestSchema);
          return send(res, 201, await rt.commit(id, name, config));
        }
        if (action === "logs" && m === "GET") {
          const { follow, tail } = query(url, Queries.logs);
          rt.get(id); // 404 before the stream starts
          const ac = new AbortController();
          res.on("close", () => ac.abort());
          res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache" });
          res.flushHeaders();
          // Empty lines keep a quiet stream (a long npm install) from timing out; readers skip them.
          const keepalive = setInterval(() => res.write("\n"), KEEPALIVE_MS);
          res.on("close", () => clearInterval(keepalive));
          for await (const line of rt.logLines(id, { follow: !!follow, tail, signal: ac.signal })) {
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

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      const status = err instanceof RuntimeError ? err.status : 500;
      if (status >= 500) console.error(`agent: ${req.method} ${req.url}: ${(err as Error).stack ?? err}`);
      // Drain what the client still sends (a tar upload) so it sees our answer.
      req.resume();
      if (res.headersSent) res.end();
      else send(res, status, { error: (err as Error).message });
    });
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const fail = (status: number, message: string) => {
      const text = JSON.stringify({ error: message });
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    };
    socket.on("error", () => {});
    const run = async () => {
      if (!authorized(req.headers.authorization)) throw new RuntimeError("this agent needs its token: send Authorization: Bearer <PAAS_AGENT_TOKEN> (the token was missing or wrong)", 401);
      const parts = new URL(req.url ?? "/", "http://agent").pathname.split("/").filter(Boolean).map(decodeURIComponent);
      const proto = String(req.headers.upgrade ?? "");
      if (req.method !== "POST" || parts.length !== 4 || parts[0] !== "v1" || parts[1] !== "containers" || parts[3] !== "exec") throw new RuntimeError(`no upgrade on ${req.method} ${req.url}: only POST /v1/containers/:id/exec upgrades`, 404);
      if (proto !== EXEC_PROTOCOL) throw new RuntimeError(`exec speaks ${EXEC_PROTOCOL}, not "${proto}"`, 400);
      await serveExec(rt, req, socket, head, parse(PathParams.container, parts[2], "path.container"));
    };
    run().catch((err) => {
      const status = err instanceof RuntimeError ? err.status : 500;
      if (status >= 500) console.error(`agent: ${req.method} ${req.url}: ${(err as Error).stack ?? err}`);
      if (!socket.destroyed) fail(status, (err as Error).message);
    });
  });
  return server;
}
