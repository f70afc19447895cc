/**
 * deploy: start the release's web replicas and wait until each answers. If
 * one does not, what this step started is removed and the release is not
 * switched to (route comes after), so the old release keeps serving.
 */
import { db, type App, type Release, type Team } from "@paas/db";
import { assertDeployQuota, QuotaError } from "@paas/db/quotas";
import type { BuildLog } from "../build-log.ts";
import { agentFor, pickHost } from "../hosts.ts";
import { replicaProblem } from "../health.ts";
import { APP_PORT } from "../builders/context.ts";
import { PushError } from "./push-error.ts";
import type { Step } from "./runner.ts";

const HEALTH_TIMEOUT_MS = 60_000;

/** A release that did not start: the pusher reads why (and the app's last lines above it). */
export class DeployError extends PushError {}

export type ReleaseOfApp = Release & { app: App & { team: Team; previewOf: App | null } };

/** A started replica: its row, its container and where it answers. */
export interface Replica {
  rowId: string;
  runtimeId: string;
  agentUrl: string;
  address: string;
}

export const deploy: Step<{ release: ReleaseOfApp; log: BuildLog }, Replica[]> = {
  name: "deploy",
  async run({ release, log }) {
    const app = release.app;
    const config = JSON.parse(release.config) as Record<string, string>;
    const started: Replica[] = [];
    try {
      const formation =
        (await db.formation.findUnique({ where: { appId_processType: { appId: app.id, processType: "web" } } })) ??
        (await db.formation.create({ data: { appId: app.id, processType: "web", quantity: 1 } }));
      // The team's replicas and memory quota, before anything starts (the old release keeps serving).
      await assertDeployQuota(db, app, [formation]).catch((err: unknown) => {
        throw err instanceof QuotaError ? new DeployError(err.message) : err;
      });
      log.step(`Starting ${formation.quantity} web replica${formation.quantity === 1 ? "" : "s"} of v${release.version}`);
      for (let i = 1; i <= formation.quantity; i++) {
        const host = await pickHost();
        const agent = agentFor(host);
        const name = `${app.name}-web-v${release.version}-${i}-${Date.now().toString(36)}`;
        const row = await db.container.create({
          data: { appId: app.id, releaseId: release.id, hostId: host.id, processType: "web" },
        });
        const replica: Replica = { rowId: row.id, runtimeId: "", agentUrl: host.agentUrl, address: "" };
        started.push(replica);
        const info = await agent.createContainer({
          name,
          image: release.imageRef,
          hostname: `${app.name}-web-${i}`,
          env: { ...config, PORT: String(APP_PORT), PAAS_APP: app.name, PAAS_RELEASE: `v${release.version}` },
          memoryBytes: formation.memoryMb * 2 ** 20,
          cgroupParent: `${app.team.name}/${app.name}`,
          network: "bridge",
          egress: false,
          labels: { "paas.app": app.name, "paas.release": `v${release.version}`, "paas.process": "web" },
        });
        replica.runtimeId = info.id;
        const running = await agent.start(info.id);
        replica.address = `${running.ip}:${APP_PORT}`;
        await db.container.update({
          where: { id: row.id },
          data: { runtimeId: info.id, address: replica.address, state: "starting", startedAt: new Date() },
        });
      }

      log.info("Waiting for the new replicas to answer");
      for (const c of started) {
        const agent = agentFor(c);
        const problem = await replicaProblem(agent, c, APP_PORT, HEALTH_TIMEOUT_MS);
        if (problem) {
          const tail: string[] = [];
          for await (const l of agent.logs(c.runtimeId, { tail: 20 })) tail.push(l.line);
          if (tail.length) log.info(["Last lines of the app's output:", ...tail.map((l) => "  " + l)].join("\n"));
          throw new DeployError(`the new release v${release.version} did not start: ${problem}`, "fix the app and push again; the running release keeps serving");
        }
        await db.container.update({ where: { id: c.rowId }, data: { state: "running" } });
      }
      return started;
    } catch (err) {
      await removeReplicas(started);
      throw err;
    }
  },
};

/** Removes replicas a failed deploy started; their rows read as crashed. */
export async function removeReplicas(replicas: Replica[]): Promise<void> {
  for (const c of replicas) {
    if (c.runtimeId) await agentFor(c).remove(c.runtimeId, true).catch(() => {});
    await db.container.update({ where: { id: c.rowId }, data: { state: "crashed", stoppedAt: new Date() } });
  }
}
