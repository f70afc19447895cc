/**
 * detect: which builder the tree needs (builders/detect.ts decides), and the
 * config vars the build takes (PAAS_BUILDER may name the builder).
 */
import { db } from "@paas/db";
import type { BuildLog } from "../build-log.ts";
import type { HttpCheck } from "@paas/shared/agent-api";
import { describeCheck, readChecks } from "../builders/checks.ts";
import { BUILDER_TITLES, detect as detectBuilder, type Detection } from "../builders/detect.ts";
import { configVars } from "./release.ts";
import type { Step } from "./runner.ts";

export interface DetectInput {
  appId: string;
  buildId: string;
  dir: string;
  log: BuildLog;
}

export const detect: Step<DetectInput, { detection: Detection; vars: Record<string, string>; checks: HttpCheck[] }> = {
  name: "detect",
  async run({ appId, buildId, dir, log }) {
    const vars = await configVars(appId);
    const detection = await detectBuilder(dir, vars.PAAS_BUILDER);
    log.step(`${BUILDER_TITLES[detection.builder]} app detected${detection.reason === "PAAS_BUILDER" ? " (PAAS_BUILDER)" : ""}`);
    // recorded now, so the dashboard names the builder while it runs and when it fails
    await db.build.update({ where: { id: buildId }, data: { builder: detection.builder } });
    const types = Object.entries(detection.processTypes).map(([t, c]) => `${t} (${c})`);
    if (types.length) log.info(`Process types: ${types.join(", ")}`);
    // Read before the build, so a malformed file fails the push at once.
    const { checks, source } = await readChecks(dir);
    if (source) log.info([`Checks from ${source}:`, ...checks.map((c) => "  " + describeCheck(c))].join("\n"));
    return { detection, vars, checks };
  },
};
