/**
 * First-run set-up of the control plane: the operator, the team "main" and
 * the admin API token. Idempotent: run it on every start.
 *
 *   npx tsx apps/web/scripts/bootstrap.ts
 *
 * The token is written to $PAAS_DATA_DIR/admin-token (mode 600) only when
 * that file does not exist yet; delete the file to mint a new one.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createDb } from "@paas/db";
import { config, generateToken, hashToken } from "@paas/shared";

// A domain with a dot: Better Auth's sign-in accepts only such addresses.
export const OPERATOR_EMAIL = "admin@paas.localhost";
/** Its name before sign-in by password (renamed on the next bootstrap). */
const OLD_OPERATOR_EMAIL = "admin@localhost";
export const DEFAULT_TEAM = "main";

/**
 * The operator signs in to the dashboard once they have set a password: until then a link
 * (an invitation to team main, 7 days) is kept in $PAAS_DATA_DIR/admin-invite, made anew
 * when the last one expired. `infra/up` prints it.
 */
async function operatorInvite(db: ReturnType<typeof createDb>, userId: string, teamId: string, email: string): Promise<string | null> {
  const cfg = config();
  const file = path.join(cfg.dataDir, "admin-invite");
  const hasPassword = (await db.account.count({ where: { userId, providerId: "credential", password: { not: null } } })) > 0;
  if (hasPassword) {
    // Used: the link must not be printed again.
    rmSync(file, { force: true });
    return null;
  }
  const base = (process.env.PAAS_PUBLIC_URL || `http://localhost:${cfg.webPort}`).replace(/\/+$/, "");
  if (existsSync(file)) {
    const secret = readFileSync(file, "utf8").trim().split("/").pop() ?? "";
    const inv = await db.invitation.findUnique({ where: { hash: hashToken(secret) } });
    if (inv && !inv.acceptedAt && inv.expiresAt.getTime() > Date.now() + 3600_000) return `${base}/invite/${secret}`;
  }
  const t = generateToken();
  await db.invitation.create({
    data: { teamId, email, role: "admin", hash: t.hash, expiresAt: new Date(Date.now() + 7 * 24 * 3600_000) },
  });
  mkdirSync(cfg.dataDir, { recursive: true });
  writeFileSync(file, `${base}/invite/${t.token}\n`, { mode: 0o600 });
  return `${base}/invite/${t.token}`;
}

export async function bootstrap(): Promise<{ tokenFile: string; token: string | null; dashboardUrl: string; inviteLink: string | null }> {
  const cfg = config();
  const db = createDb();
  try {
    if (!(await db.user.findUnique({ where: { email: OPERATOR_EMAIL } }))) {
      await db.user.updateMany({ where: { email: OLD_OPERATOR_EMAIL }, data: { email: OPERATOR_EMAIL } });
    }
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
    const inviteLink = await operatorInvite(db, user.id, team.id, OPERATOR_EMAIL);
    return { tokenFile, token, dashboardUrl: `http://localhost:${cfg.webPort}/`, inviteLink };
  } finally {
    await db.$disconnect();
  }
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  bootstrap().then(
    ({ tokenFile, token, dashboardUrl, inviteLink }) => {
      console.log(`Dashboard:   ${dashboardUrl}`);
      if (inviteLink) console.log(`Sign-in:     set ${OPERATOR_EMAIL}'s password at ${inviteLink}`);
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
