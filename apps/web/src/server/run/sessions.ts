/**
 * `paas run` and `paas run:debug` over HTTP: the CLI reaches a one-off container's command
 * through the API only (never the agent), with a TTY when it has one.
 *   POST /api/run  {app, mode, cmd?, replica?, tty?, rows?, cols?}  (bearer token; "deploy" rights)
 *     the worker makes and starts the container (a "one-off" job, worker/src/oneoff); the command
 *     runs in it through the agent's exec stream (AgentClient.exec); the answer is that stream's
 *     frames as they come (EXEC_PROTOCOL: O and E output, X the exit code, last), with the
 *     session's id in `x-paas-session`. When the command ends, or the caller goes, the container
 *     is removed.
 *   POST /api/run/<session>/input  body: frames (I stdin bytes, C stdin ended, W "ROWS COLS")
 *     the caller's keys and terminal size, in order (one request at a time), by the same token.
 * Two plain requests rather than an upgrade: Next's route handlers cannot take over the socket,
 * and both are ordinary HTTP any proxy passes.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { AgentClient, appName, config, encodeFrame, frameReader, type ExecProcess } from "@paas/shared";
import { authenticateToken, tokenFromAuthorization, type Principal } from "../auth.ts";
import { auditable, auditSubject, clientAddress, outcomeOf, recordAudit } from "../audit/record.ts";
import { authorizeApp, AuthzError } from "../authz.ts";
import { deployFailure, runDeploy } from "../deploys.ts";

const RunRequest = z.object({
  app: appName,
  mode: z.enum(["run", "debug"]),
  /** run: the command (one string runs in sh -c); debug: default bash. */
  cmd: z.array(z.string().max(65536)).max(256).optional(),
  replica: z.string().max(80).optional(),
  tty: z.boolean().optional(),
  rows: z.int().min(1).max(65535).optional(),
  cols: z.int().min(1).max(65535).optional(),
});

interface Session {
  tokenId: string;
  proc: ExecProcess;
}

const g = globalThis as unknown as { __paasRunSessions?: Map<string, Session> };
const sessions = (g.__paasRunSessions ??= new Map());

const json = (status: number, error: string) => Response.json({ error }, { status });

async function principalOf(req: Request): Promise<Principal | null> {
  return authenticateToken(tokenFromAuthorization(req.headers.get("authorization")));
}

function authzStatus(err: AuthzError): number {
  return err.code === "UNAUTHORIZED" ? 401 : err.code === "FORBIDDEN" ? 403 : 404;
}

export async function startRunResponse(req: Request): Promise<Response> {
  const p = await principalOf(req);
  let body: unknown;
  try {
    body = await req.json();
  } catch {
    return json(400, "the body must be JSON: {app, mode, cmd}");
  }
  const parsed = RunRequest.safeParse(body);
  if (!parsed.success) return json(400, parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "));
  const input = parsed.data;
  if (input.mode === "run" && !input.cmd?.length) return json(400, "name the command to run, e.g. paas run -a APP -- ls -la");
  // Who ran what in which app is in the audit log, whatever came of it (the command as typed,
  // its URLs' credentials masked: record.ts redact).
  const audit = async (outcome?: string) => {
    if (!auditable(p)) return;
    const subject = await auditSubject("run", { app: input.app }, null);
    const details = { mode: input.mode, ...(input.cmd ? { cmd: input.cmd } : {}), ...(input.replica ? { replica: input.replica } : {}) };
    await recordAudit({ principal: p, address: clientAddress(req.headers), action: input.mode === "debug" ? "run:debug" : "run", ...subject, details, outcome });
  };
  let app;
  try {
    app = await authorizeApp(p, input.app, "deploy");
  } catch (err) {
    if (err instanceof AuthzError) {
      await audit(outcomeOf(err));
      return json(authzStatus(err), err.message);
    }
    throw err;
  }
  const made = await runDeploy({ kind: "one-off", appId: app.id, mode: input.mode, ...(input.replica ? { replica: input.replica } : {}) }, 120_000);
  if (!made.ok || !made.container) {
    const error = made.error ?? "the container could not be made";
    await audit(outcomeOf(deployFailure(made, error)));
    return json(409, error);
  }
  const { agentUrl, id } = made.container;
  const agent = new AgentClient(agentUrl, config().agentToken);
  const remove = () => agent.remove(id, true).catch(() => {});
  const cmd = input.cmd?.length ? (input.cmd.length === 1 ? ["/bin/sh", "-c", input.cmd[0]!] : input.cmd) : ["bash", "-l"];
  let proc: ExecProcess;
  try {
    proc = await agent.exec(id, {
      cmd,
      // Should this process die mid-run, the agent still removes the container when the stream drops.
      removeContainer: true,
      ...(input.tty ? { tty: true, ...(input.rows && input.cols ? { size: { rows: input.rows, cols: input.cols } } : {}) } : {}),
      ...(input.mode === "debug" ? { user: { uid: 0, gid: 0 } } : {}),
      ...(input.tty ? { env: { TERM: "xterm-256color" } } : {}),
    });
  } catch (err) {
    await remove();
    await audit(outcomeOf(new Error(`the command did not start: ${(err as Error).message}`)));
    return json(409, `the command did not start: ${(err as Error).message}`);
  }
  await audit();
  const sessionId = randomBytes(16).toString("hex");
  sessions.set(sessionId, { tokenId: p!.tokenId, proc });
  let done = false;
  const end = async () => {
    if (done) return;
    done = true;
    sessions.delete(sessionId);
    await remove();
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (type: string, data: Buffer | string) => {
        if (!done) controller.enqueue(encodeFrame(type, data));
      };
      proc.stdout.on("data", (c: Buffer) => send("O", c));
      proc.stderr.on("data", (c: Buffer) => send("E", c));
      void proc.exit.then(async (code) => {
        // What the streams still hold goes first; the exit code is the last frame.
        await new Promise((r) => setImmediate(r));
        send("X", String(code));
        // Gone before the stream ends: when the CLI returns, nothing of the run is left.
        await end();
        controller.close();
      });
    },
    cancel() {
      // The caller went away (Ctrl-C, a lost connection): the command and its container go.
      proc.abort();
      void end();
    },
  });
  return new Response(stream, {
    headers: { "content-type": "application/vnd.paas-exec", "cache-control": "no-store, no-transform", "x-paas-session": sessionId, ...(made.container.replica ? { "x-paas-replica": made.container.replica } : {}) },
  });
}

export async function runInputResponse(req: Request, sessionId: string): Promise<Response> {
  const p = await principalOf(req);
  const s = sessions.get(sessionId);
  // Only the token that started it may type into it.
  if (!p || !s || s.tokenId !== p.tokenId) return json(404, "no such run session (it ended, or is not yours)");
  const buf = Buffer.from(await req.arrayBuffer());
  let bad = false;
  frameReader(
    (type, payload) => {
      if (type === "I") s.proc.stdin.write(payload);
      else if (type === "C") s.proc.stdin.end();
      else if (type === "W") {
        const [rows, cols] = payload.toString().split(" ").map(Number);
        if (rows && cols) s.proc.resize(rows, cols);
      }
    },
    () => (bad = true),
    1 << 20,
  )(buf);
  return bad ? json(400, "a frame is longer than 1 MiB") : Response.json({ ok: true });
}
