/**
 * release: image + config vars + process types, numbered v1, v2, ... per app.
 * A build's release is made under the app's deploy lock, so it takes the
 * config as it is then (a config:set during the build is in it); config
 * changes and rollbacks (jobs/deploys.ts) make theirs with createRelease.
 */
import { db, type Release } from "@paas/db";
import type { HttpCheck } from "@paas/shared/agent-api";
import type { BuildLog } from "../build-log.ts";
import type { Step } from "./runner.ts";

export async function createRelease(input: {
  appId: string;
  buildId?: string;
  imageRef: string;
  processTypes: Record<string, string>;
  description: string;
  /** The config to snapshot (a rollback passes the old one); default: the app's config vars now. */
  config?: Record<string, string>;
  /** The web replicas' checks (health.ts releaseChecks of the release it derives from); none: the port answering. */
  checks?: HttpCheck[];
}): Promise<Release> {
  const config = input.config ?? (await configVars(input.appId));
  // Version numbers are unique per app; retry if another release took ours.
  for (let attempt = 0; ; attempt++) {
    const last = await db.release.findFirst({ where: { appId: input.appId }, orderBy: { version: "desc" } });
    try {
      return await db.release.create({
        data: {
          appId: input.appId,
          buildId: input.buildId,
          version: (last?.version ?? 0) + 1,
          imageRef: input.imageRef,
          processTypes: JSON.stringify(input.processTypes),
          config: JSON.stringify(config),
          description: input.description,
          checks: input.checks?.length ? JSON.stringify(input.checks) : null,
        },
      });
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** The app's config vars now, as a record. */
export async function configVars(appId: string): Promise<Record<string, string>> {
  return Object.fromEntries((await db.configVar.findMany({ where: { appId } })).map((v) => [v.key, v.value]));
}

export interface ReleaseInput {
  appId: string;
  buildId: string;
  commit: string;
  imageRef: string;
  processTypes: Record<string, string>;
  checks: HttpCheck[];
  log: BuildLog;
}

export const release: Step<ReleaseInput, Release> = {
  name: "release",
  async run({ log, commit, ...input }) {
    const made = await createRelease({ ...input, description: `Deploy ${commit.slice(0, 7)}` });
    log.step(`Releasing v${made.version} (${made.description})`);
    return made;
  },
};
