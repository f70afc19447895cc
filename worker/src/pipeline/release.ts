/** Releases: image + config vars + process types, numbered v1, v2, ... per app. */
import { db, type Release } from "@paas/db";

export async function createRelease(input: {
  appId: string;
  buildId?: string;
  imageRef: string;
  processTypes: Record<string, string>;
  description: string;
  /** The config to snapshot (a rollback passes the old one); default: the app's config vars now. */
  config?: Record<string, string>;
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
