/**
 * Custom domains' storage beyond their rows: the certificate files beside them
 * ($PAAS_DATA_DIR/tls/domains, @paas/shared/tls). Imported as `@paas/db/domains`.
 */
import { config } from "@paas/shared";
import { removeDomainCert } from "@paas/shared/tls";
import type { Prisma, PrismaClient } from "./index.ts";

type Client = PrismaClient | Prisma.TransactionClient;

/**
 * Removes every custom domain of the app and its certificate files (apps:destroy: a
 * cascade would remove the rows, but the keys on disk stay). The routes are the worker's
 * to remove (route.ts unpublishApp removes every host pointing at the app). Returns the
 * host names removed.
 */
export async function removeAppDomains(client: Client, appId: string): Promise<string[]> {
  const domains = await client.domain.findMany({ where: { appId }, select: { hostname: true } });
  await client.domain.deleteMany({ where: { appId } });
  for (const d of domains) removeDomainCert(config().tlsDir, d.hostname);
  return domains.map((d) => d.hostname);
}
