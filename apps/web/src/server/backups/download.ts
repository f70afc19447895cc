/**
 * `paas backups:download ID`: the backup's files as a tar, streamed through the API (bearer
 * token, "deploy" rights: a backup holds the app's data). The worker makes a container of
 * stack/backup holding the app's repository (a "backup" deploy job, op download); restic dump
 * --archive tar runs in it through the agent's exec and its stdout is the response's body. When
 * restic fails midway the body is cut (an error, never a short tar that looks whole); the
 * container is removed at the end either way.
 */
import { AgentClient, appName, config } from "@paas/shared";
import { authenticateToken, tokenFromAuthorization } from "../auth.ts";
import { authorizeApp, AuthzError } from "../authz.ts";
import { runDeploy } from "../deploys.ts";

const json = (status: number, error: string) => Response.json({ error }, { status });

export async function downloadResponse(req: Request, id: string): Promise<Response> {
  const p = await authenticateToken(tokenFromAuthorization(req.headers.get("authorization")));
  const name = appName.safeParse(new URL(req.url).searchParams.get("app"));
  if (!name.success) return json(400, "name the app: ?app=APP");
  if (!/^[a-z0-9]{8,40}$/.test(id)) return json(400, "a backup id as `paas backups` lists it");
  let app;
  try {
    app = await authorizeApp(p, name.data, "deploy");
  } catch (err) {
    if (err instanceof AuthzError) return json(err.code === "UNAUTHORIZED" ? 401 : err.code === "FORBIDDEN" ? 403 : 404, err.message);
    throw err;
  }
  const made = await runDeploy({ kind: "backup", appId: app.id, op: "download", backupId: id }, 120_000);
  if (!made.ok || !made.container?.snapshot) return json(409, made.error ?? "the backup's container could not be made");
  const { agentUrl, id: cid, snapshot } = made.container;
  const agent = new AgentClient(agentUrl, config().agentToken);
  const remove = () => agent.remove(cid, true).catch(() => {});
  let proc;
  try {
    proc = await agent.exec(cid, { cmd: ["restic", "--no-cache", "dump", "--archive", "tar", snapshot, "/data"] });
  } catch (err) {
    await remove();
    return json(502, `restic dump did not start: ${(err as Error).message}`);
  }
  proc.stdin.end();
  let stderr = "";
  proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const { stdout, exit } = proc;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      stdout.on("data", (c: Buffer) => {
        controller.enqueue(new Uint8Array(c));
        // A slow client: restic waits rather than the API holding the backup in memory.
        if ((controller.desiredSize ?? 1) <= 0) stdout.pause();
      });
      void exit.then(async (code) => {
        await remove();
        if (code === 0) controller.close();
        else {
          console.error(`backups: download of ${id} (${app.name}) failed: restic dump exited ${code}: ${stderr.trim().slice(-300)}`);
          controller.error(new Error(`restic dump exited ${code}`));
        }
      });
    },
    pull() {
      stdout.resume();
    },
    cancel() {
      proc.abort();
      void remove();
    },
  });
  return new Response(body, { headers: { "content-type": "application/x-tar", "content-disposition": `attachment; filename="${app.name}-${id}.tar"` } });
}
