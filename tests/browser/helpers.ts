/** What the browser tests share: signing a page in, and the one directory their screenshots go to. */
import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { ROOT } from "../helpers/platform.ts";

/** test-results/screenshots in the checkout (ignored by git), or PAAS_SHOTS_DIR. */
export const SHOTS = process.env.PAAS_SHOTS_DIR || path.join(ROOT, "test-results", "screenshots");
fs.mkdirSync(SHOTS, { recursive: true });

/** Debian's Chromium (CHROMIUM_PATH to use another), headless, without the background traffic and sandbox a test host cannot give it. */
/**
 * How long a page's actions and navigations may wait (Playwright's default: 30 s). They wait
 * for events, so a long limit costs nothing when all goes well; on a loaded 2-core CI machine a
 * fresh platform's first pages took over 30 s to load their scripts (a hydrated button stayed
 * disabled, use-hydrated.ts).
 */
export const PAGE_TIMEOUT_MS = 120_000;

/** Chromium as this machine has it; its contexts wait PAGE_TIMEOUT_MS. */
export async function launchChromium(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const ctx = await newContext(options);
    ctx.setDefaultTimeout(PAGE_TIMEOUT_MS);
    return ctx;
  };
  return browser;
}

/** The path of a screenshot named `name` (e.g. "live-logs.png"). */
export const shotPath = (name: string) => path.join(SHOTS, name);

/** Signs a page in with an API token, as a person does on /login, and waits for the home page. */
export async function signIn(page: Page, webUrl: string, token: string): Promise<Page> {
  await page.goto(`${webUrl}/login`);
  await page.fill("#token", token);
  // The button is enabled once the page's script runs (use-hydrated.ts): on a fresh platform
  // the first page's scripts can take long on a loaded machine (CI: over 30 s, once).
  await page.locator("#token-submit:enabled").waitFor();
  await page.click("#token-submit");
  await page.waitForURL(`${webUrl}/`);
  return page;
}

/**
 * Runs `steps` on `page`; when one fails, the error says where the page was and what it showed,
 * and a screenshot is kept (`failed-<name>.png`): a browser test's timeout alone names only the
 * locator it waited for, not whether the page was an error, the login page or still loading.
 */
export async function explained<T>(page: Page, name: string, steps: () => Promise<T>): Promise<T> {
  try {
    return await steps();
  } catch (err) {
    const shot = shotPath(`failed-${name}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    const text = await page.locator("body").innerText({ timeout: 2000 }).catch((e: Error) => `(no text: ${e.message})`);
    (err as Error).message += `\n  the page: ${page.url()}\n  its text: ${text.replace(/\s+/g, " ").slice(0, 800)}\n  screenshot: ${shot}`;
    throw err;
  }
}
