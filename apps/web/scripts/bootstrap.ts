/**
 * First-run set-up of the control plane: the operator, the team "main" and
 * the admin API token. Idempotent: run it on every start.
 *
 *   npx tsx apps/web/scripts/bootstrap.ts
 *
 * The token is written to $PAAS_DATA_DIR/admin-token (mode 600) only when
 * that file does not exist yet; delete the file to mint a new one.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createDb } from "@paas/db";
import { config, generateToken } from "@paas/shared";

export const OPERATOR_EMAIL = "admin@localhost";
export const DEFAULT_TEAM = "main";

export async function bootstrap(): Promise<{ tokenFile: string; token: string | null; dashboardUrl: string }> {
  const cfg = config();
  const db = createDb();
  try {
    const user = await db.user.upsert({
      where: { email: OPERATOR_EMAIL },
      update: { isOperator: true },
      create: { email: OPERATOR_EMAIL, name: "Operator", isOperator: true },
    });
    const team = await db.team.upsert({ where: { name: DEFAULT_TEAM }, update: {}, create: { name: DEFAULT_TEAM } });
    await db.quota.upsert({ where: { teamId: team.id }, update: {}, create: { teamId: team.id } });
    await db.membership.upsert({
      where: { teamId_userId: { teamId: team.id, userId: user.id } },
      update: { role: "admin" },
      create: { teamId: team.id, userId: user.id, role: "admin" },
    });

    const tokenFile = path.join(cfg.dataDir, "admin-token");
    let token: string | null = null;
    if (!existsSync(tokenFile)) {
      const t = generateToken();
      await db.apiToken.create({
        data: { userId: user.id, name: "bootstrap admin", hash: t.hash, prefix: t.prefix, kind: "api" },
      });
      mkdirSync(cfg.dataDir, { recursive: true });
      // "wx": never overwrite a token another bootstrap wrote meanwhile.
      writeFileSync(tokenFile, t.token + "\n", { mode: 0o600, flag: "wx" });
      token = t.token;
    }
    return { tokenFile, token, dashboardUrl: `http://localhost:${cfg.webPort}/` };
  } finally {
    await db.$disconnect();
  }
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  bootstrap().then(
    ({ tokenFile, token, dashboardUrl }) => {
      console.log(`Dashboard:   ${dashboardUrl}`);
      console.log(`Admin token: ${tokenFile}${token ? " (new)" : " (kept)"}`);
      if (token) console.log(`             ${token}`);
      else console.log(`             read it with: cat ${tokenFile}`);
    },
    (err: Error) => {
      console.error(`bootstrap failed: ${err.message}`);
      console.error("is the database migrated? run: npx tsx prisma/migrate.ts deploy");
      process.exit(1);
    },
  );
}
