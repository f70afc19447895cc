/**
 * deploy: start the release's replicas, every process type as its formation says
 * (prisma/formation.ts: a type seen for the first time runs 1), and wait until each is up
 * (replicas.ts: web answers on $PORT and passes the release's checks, the others keep
 * running). If one is not, what this step started is removed and the release is not
 * switched to (route comes after), so the old release keeps serving.
 */
import { db, type App, type Release, type Team } from "@paas/db";
import { formationFor, processTypesOf } from "@paas/db/formation";
import { QuotaError, reserveDeployQuota } from "@paas/db/quotas";
import type { BuildLog } from "../build-log.ts";
import { releaseChecks } from "../health.ts";
import { PushError } from "./push-error.ts";
import { egressSpec } from "./egress.ts";
import { checkReplicas, removeReplicas, replicaName, startReplica, type Replica } from "./replicas.ts";
import type { Step } from "./runner.ts";

/** A release that did not start: the pusher reads why (and the app's last lines above it). */
export class DeployError extends PushError {}

export type ReleaseOfApp = Release & { app: App & { team: Team; previewOf: App | null } };

export { removeReplicas, type Replica };

const plural = (n: number, what: string) => `${n} ${what} replica${n === 1 ? "" : "s"}`;

export const deploy: Step<{ release: ReleaseOfApp; log: BuildLog }, Replica[]> = {
  name: "deploy",
  async run({ release, log }) {
    const app = release.app;
    const started: Replica[] = [];
    try {
      const formation = await formationFor(db, app.id, processTypesOf(release));
      // The team's quotas, before anything starts (the old release keeps serving); held
      // until the deploy lock's end, so another app's deploy meanwhile counts this one.
      await reserveDeployQuota(db, app, formation).catch((err: unknown) => {
        throw err instanceof QuotaError ? new DeployError(err.message) : err;
      });
      // The app's outbound network as it is set now (host names resolved now).
      const egress = await egressSpec(app);
      const running = formation.filter((f) => f.quantity > 0);
      log.step(`Starting ${running.map((f) => plural(f.quantity, f.processType)).join(", ") || "no replicas (every process type is scaled to 0)"} of v${release.version}`);
      log.info(egress.said);
      for (const f of running) {
        for (let i = 1; i <= f.quantity; i++) started.push(await startReplica(release, f, i, egress.spec));
      }
      const checks = releaseChecks(release);
      log.info(`Waiting for the new replicas to start${checks.length ? ` and web to pass ${checks.length === 1 ? "its check" : `its ${checks.length} checks`}` : ""}`);
      await checkReplicas(release, started, log, (failed, c) => {
        const what = failed.failed === "check" ? "failed its check" : "did not start";
        return new DeployError(`the new release v${release.version} ${what}: ${replicaName(c)}: ${failed.problem}`, "fix the app and push again; the running release keeps serving");
      });
      return started;
    } catch (err) {
      await removeReplicas(started);
      throw err;
    }
  },
};
