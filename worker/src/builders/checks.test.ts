import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { HttpCheck } from "@paas/shared/agent-api";
import { ChecksError, parseAppJsonChecks, parseChecksFile, readChecks } from "./checks.ts";

const CHECKS_DEFAULTS = { initialDelayMs: 0, timeoutMs: 30_000, attempts: 5, waitMs: 5000 };
const APP_JSON_DEFAULTS = { initialDelayMs: 0, timeoutMs: 5000, attempts: 3, waitMs: 5000 };

test("CHECKS files: good ones", () => {
  const good: [string, string, HttpCheck[]][] = [
    ["a path", "/health\n", [{ path: "/health", ...CHECKS_DEFAULTS }]],
    ["path and content (the rest of the line)", "/about  Our Amazing Team\n", [{ path: "/about", content: "Our Amazing Team", ...CHECKS_DEFAULTS }]],
    [
      "settings apply to every check, wherever they are; comments and blank lines skipped",
      "# checks\n\n/  My App\nWAIT=30     # half a minute\nTIMEOUT=60\r\nATTEMPTS=10\n/scripts/index.js $(function()\n",
      [
        { path: "/", content: "My App", initialDelayMs: 0, timeoutMs: 60_000, attempts: 10, waitMs: 30_000 },
        { path: "/scripts/index.js", content: "$(function()", initialDelayMs: 0, timeoutMs: 60_000, attempts: 10, waitMs: 30_000 },
      ],
    ],
    [
      "a host name sets the Host header",
      "//admin.example.com  Admin Dashboard\nhttp://static.example.com/logo.png\n",
      [
        { path: "/", host: "admin.example.com", content: "Admin Dashboard", ...CHECKS_DEFAULTS },
        { path: "/logo.png", host: "static.example.com", ...CHECKS_DEFAULTS },
      ],
    ],
    ["WAIT=0 is no wait", "WAIT=0\n/ok\n", [{ path: "/ok", ...CHECKS_DEFAULTS, waitMs: 0 }]],
    ["settings alone: the default check", "WAIT=10\n", []],
    ["empty", "", []],
  ];
  for (const [what, text, want] of good) assert.deepEqual(parseChecksFile(text), want, what);
});

test("CHECKS files: bad ones fail naming the line and what is wrong", () => {
  const bad: [string, RegExp][] = [
    ["/ok\nhealth ok\n", /^CHECKS line 2: "health" is not a path; a check is "\/path \[expected content\]"$/],
    ["ATTEMPTS=0\n/\n", /^CHECKS line 1: ATTEMPTS=0 must be a whole number from 1 to 100$/],
    ["/\nTIMEOUT=soon\n", /^CHECKS line 2: TIMEOUT=soon must be a whole number of seconds from 1 to 600$/],
    ["WAIT=-1\n", /^CHECKS line 1: WAIT=-1 must be a whole number of seconds from 0 to 600$/],
    ["WAIT=5\nRETRIES=3\n", /^CHECKS line 2: unknown setting RETRIES \(the settings are WAIT, TIMEOUT and ATTEMPTS\)$/],
    ["https://example.com/\n", /^CHECKS line 1: https checks are not supported/],
    ["/caf\u00e9\n", /^CHECKS line 1: path must be printable ASCII without spaces$/],
  ];
  for (const [text, want] of bad) assert.throws(() => parseChecksFile(text), (e: Error) => e instanceof ChecksError && want.test(e.message), JSON.stringify(text));
});

test("app.json healthchecks.web: good ones", () => {
  const good: [string, unknown, HttpCheck[]][] = [
    ["no healthchecks", { name: "my app", env: {} }, []],
    ["Dokku's example", { healthchecks: { web: [{ type: "startup", name: "web check", description: "ready?", path: "/health/ready", attempts: 3 }] } }, [{ path: "/health/ready", ...APP_JSON_DEFAULTS }]],
    [
      "every field we run",
      { healthchecks: { web: [{ path: "/health", content: "ok", status: 200, attempts: 6, timeout: 2, wait: 1, initialDelay: 3, port: 5000, scheme: "http", listening: false }] } },
      [{ path: "/health", status: 200, content: "ok", initialDelayMs: 3000, timeoutMs: 2000, attempts: 6, waitMs: 1000 }],
    ],
    ["a check without a path (Dokku's uptime default) is the default check", { healthchecks: { web: [{ type: "startup", name: "up" }] } }, []],
    ["other process types' checks are not web's", { healthchecks: { worker: [{ uptime: 10 }] } }, []],
  ];
  for (const [what, doc, want] of good) assert.deepEqual(parseAppJsonChecks(JSON.stringify(doc)), want, what);
});

test("app.json healthchecks.web: bad ones fail naming the key or line and what is wrong", () => {
  const bad: [string, RegExp][] = [
    ['{\n  "healthchecks": {\n    "web": [\n      { "path": "/" },,\n    ]\n  }\n}', /^app\.json line 4 is not valid JSON: /],
    [JSON.stringify({ healthchecks: { web: [{ path: "/", attempts: 0 }] } }), /^app\.json healthchecks\.web\[0\]\.attempts: Too small/],
    [JSON.stringify({ healthchecks: { web: [{ path: "/", timeout: "5s" }] } }), /^app\.json healthchecks\.web\[0\]\.timeout: Invalid input: expected number, received string$/],
    [JSON.stringify({ healthchecks: { web: [{ path: "/" }, { command: ["/app/check.sh"] }] } }), /^app\.json healthchecks\.web\[1\]\.command: command checks are not supported here/],
    [JSON.stringify({ healthchecks: { web: [{ path: "/", port: 8080 }] } }), /^app\.json healthchecks\.web\[0\]\.port: checks run on \$PORT \(5000\)/],
    [JSON.stringify({ healthchecks: { web: [{ path: "/", scheme: "https" }] } }), /^app\.json healthchecks\.web\[0\]\.scheme: only "http"/],
    [JSON.stringify({ healthchecks: { web: { path: "/" } } }), /^app\.json healthchecks\.web: Invalid input: expected array/],
    [JSON.stringify({ healthchecks: { web: [{ path: "health" }] } }), /^app\.json healthchecks\.web\[0\]: path must start with \/$/],
    [JSON.stringify({ healthchecks: { web: [{ path: "/", type: "ready" }] } }), /^app\.json healthchecks\.web\[0\]\.type: Invalid option/],
  ];
  for (const [text, want] of bad) assert.throws(() => parseAppJsonChecks(text), (e: Error) => e instanceof ChecksError && want.test(e.message), `${text} -> ${(() => { try { parseAppJsonChecks(text); return "no error"; } catch (e) { return (e as Error).message; } })()}`);
});

test("a source tree's checks: app.json's win over CHECKS; none is the default check", async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "checks-"));
  try {
    assert.deepEqual(await readChecks(dir), { checks: [], source: null });
    await fs.writeFile(path.join(dir, "CHECKS"), "/from-checks\n");
    assert.deepEqual(await readChecks(dir), { checks: [{ path: "/from-checks", ...CHECKS_DEFAULTS }], source: "CHECKS" });
    await fs.writeFile(path.join(dir, "app.json"), JSON.stringify({ name: "no checks here" }));
    assert.equal((await readChecks(dir)).source, "CHECKS");
    await fs.writeFile(path.join(dir, "app.json"), JSON.stringify({ healthchecks: { web: [{ path: "/from-app-json" }] } }));
    assert.deepEqual(await readChecks(dir), { checks: [{ path: "/from-app-json", ...APP_JSON_DEFAULTS }], source: "app.json" });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
