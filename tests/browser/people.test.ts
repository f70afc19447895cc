/**
 * People in Debian's Chromium against the real server (`next start`): the operator sets a
 * password from the link the bootstrap keeps (what `infra/up` prints) and signs in with it;
 * on the team's page invites a member; the member opens the link, sets a password, signs in and
 * sees only the team's apps. The admin makes a token (shown once) and revokes it.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { bootstrappedDataDir } from "../../apps/web/src/server/testing/platform.ts";
import { startWeb, type WebServer } from "../../apps/web/src/server/testing/server.ts";
import { shotPath, launchChromium } from "./helpers.ts";

const { dataDir } = bootstrappedDataDir("paas-people-browser-");
const { seedApp } = await import("./seed.ts");
const { createDb } = await import("@paas/db");
const dbUrl = `file:${path.join(dataDir, "paas.db")}`;

let web: WebServer;
let browser: Browser;

before(async () => {
  // Two teams, an app in each: the member of "blue" must see only blue's.
  const db = createDb(dbUrl);
  await db.team.create({ data: { name: "blue", memberships: { create: { user: { connect: { email: "admin@paas.localhost" } }, role: "admin" } } } });
  await db.$disconnect();
  await seedApp(dbUrl, "main-secret-app", "main");
  await seedApp(dbUrl, "blue-app", "blue");
  web = await startWeb(dataDir);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await web?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function newPage(): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  return ctx.newPage();
}

/** A link as the bootstrap or the page printed it, on this test server's address. */
const onServer = (link: string) => web.url + new URL(link).pathname;

async function acceptAndSignIn(page: Page, link: string, email: string, password: string) {
  await page.goto(onServer(link));
  assert.equal(await page.getByTestId("invite-email").textContent(), email);
  await page.fill("#invite-password", password);
  await page.fill("#invite-password-again", password);
  await page.getByRole("button", { name: "Set password and join" }).click();
  await page.waitForURL(/\/login\?email=/);
  assert.equal(await page.inputValue("#email"), email);
  await page.fill("#password", password);
  await page.getByTestId("password-sign-in").getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${web.url}/`);
  assert.equal(await page.getByTestId("whoami").textContent(), email);
}

test("an admin invites a member, who sets a password, signs in and sees only the team's apps", { timeout: 300_000 }, async () => {
  const admin = await newPage();
  // The operator's first sign-in: the link `infra/up` prints.
  const operatorLink = readFileSync(path.join(dataDir, "admin-invite"), "utf8").trim();
  await acceptAndSignIn(admin, operatorLink, "admin@paas.localhost", "operator-password-1");

  // A wrong password is refused with a message.
  const wrong = await newPage();
  await wrong.goto(`${web.url}/login`);
  await wrong.fill("#email", "admin@paas.localhost");
  await wrong.fill("#password", "not-the-password");
  await wrong.getByTestId("password-sign-in").getByRole("button", { name: "Sign in" }).click();
  await wrong.getByTestId("password-error").waitFor();
  assert.match((await wrong.getByTestId("password-error").textContent()) ?? "", /Invalid email or password/);

  await admin.goto(`${web.url}/teams/blue`);
  await admin.fill("#invite-email", "mia@example.com");
  await admin.selectOption("#invite-role", "member");
  await admin.getByRole("button", { name: "Invite" }).click();
  const link = (await admin.getByTestId("invite-link").textContent())!.trim();
  assert.match(link, /\/invite\/paas_/);
  await admin.getByTestId("invitation-row").filter({ hasText: "mia@example.com" }).waitFor();
  await admin.screenshot({ path: shotPath("team-invite.png"), fullPage: true });

  const member = await newPage();
  await acceptAndSignIn(member, link, "mia@example.com", "mia-password-123");
  await member.getByRole("link", { name: "blue-app", exact: true }).waitFor();
  const body = (await member.textContent("body")) ?? "";
  assert.ok(!body.includes("main-secret-app"), "the member must not see another team's app");
  assert.match(body, /blue \(member\)/);
  await member.screenshot({ path: shotPath("member-home.png"), fullPage: true });
  // Another team's app page is a 404 for them.
  const res = await member.goto(`${web.url}/apps/main-secret-app`);
  assert.equal(res?.status(), 404);

  // Back on the admin's page, the member is listed with their role; the invitation is gone.
  await admin.reload();
  await admin.getByTestId("member-row").filter({ hasText: "mia@example.com" }).waitFor();
  assert.equal(await admin.getByTestId("invitation-row").count(), 0);
});

test("a token is shown once and can be revoked from the team's page", { timeout: 180_000 }, async () => {
  const page = await newPage();
  await page.goto(`${web.url}/login`);
  await page.fill("#email", "admin@paas.localhost");
  await page.fill("#password", "operator-password-1");
  await page.getByTestId("password-sign-in").getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${web.url}/`);
  await page.goto(`${web.url}/teams/blue`);
  await page.fill("#token-name", "ci");
  await page.selectOption("#token-role", "viewer");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.getByTestId("new-token").textContent())!.trim();
  assert.match(token, /^paas_/);
  const who = await fetch(`${web.url}/api/trpc/auth.whoami`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(who.status, 200);
  await page.screenshot({ path: shotPath("team-token.png"), fullPage: true });
  await page.reload();
  // Shown once: not on the page any more.
  assert.equal(await page.getByTestId("new-token").count(), 0);
  const row = page.getByTestId("token-row").filter({ hasText: "ci" });
  await row.getByRole("button", { name: "Revoke" }).click();
  await page.getByTestId("token-row").filter({ hasText: "revoked" }).waitFor();
  const after = await fetch(`${web.url}/api/trpc/auth.whoami`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(after.status, 401);
});
