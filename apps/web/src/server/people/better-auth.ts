/**
 * Dashboard sign-in with Better Auth: email + password, sessions in an httpOnly SameSite=Lax
 * cookie (the Session table), sign-in rate-limited, cross-site requests refused by its
 * Origin check. Passwords are hashed by Better Auth (scrypt); no crypto of ours.
 *
 * Why Better Auth: it runs on our Prisma 7 client as is (its Prisma adapter calls the
 * client's model methods, so the better-sqlite3 driver adapter is used unchanged), needs no
 * network, and has email/password, rate limiting and CSRF defences built in. Auth.js's
 * credentials provider keeps no database sessions and leaves password hashing to the app.
 */
import { betterAuth } from "better-auth";
import { prismaAdapter } from "better-auth/adapters/prisma";
import { db } from "@paas/db";
import { createHash } from "node:crypto";
import { config } from "@paas/shared";

export const SESSION_COOKIE_PREFIX = "paas";
export const SESSION_TTL_SECONDS = 7 * 24 * 3600;

function secret(): string {
  // Signs the session cookie. Stable per data dir: a restart keeps people signed in.
  // Hex of a sha256: Better Auth wants 32 characters or more.
  return process.env.PAAS_AUTH_SECRET || createHash("sha256").update(`paas-auth:${config().dataDir}:${process.env.PAAS_WORKER_TOKEN ?? ""}`).digest("hex");
}

function makeAuth() {
  const port = config().webPort;
  return betterAuth({
    appName: "PaaS",
    secret: secret(),
    baseURL: process.env.PAAS_PUBLIC_URL || `http://localhost:${port}`,
    basePath: "/api/auth",
    // The dashboard is reached as localhost or 127.0.0.1 (tests, tunnels); requests from other origins are refused.
    trustedOrigins: [`http://localhost:${port}`, `http://127.0.0.1:${port}`, ...(process.env.PAAS_TRUSTED_ORIGINS?.split(",").filter(Boolean) ?? [])],
    database: prismaAdapter(db, { provider: "sqlite" }),
    emailAndPassword: {
      enabled: true,
      // Accounts come from invitations only (an invitation sets the password).
      disableSignUp: true,
      minPasswordLength: 8,
    },
    session: { expiresIn: SESSION_TTL_SECONDS },
    advanced: {
      cookiePrefix: SESSION_COOKIE_PREFIX,
      database: { generateId: false },
      useSecureCookies: false,
    },
    rateLimit: {
      enabled: true,
      storage: "memory",
      window: 60,
      max: 100,
      customRules: { "/sign-in/email": { window: 60, max: 5 } },
    },
  });
}

const g = globalThis as unknown as { __paasAuth?: ReturnType<typeof makeAuth> };
export function auth() {
  return (g.__paasAuth ??= makeAuth());
}
