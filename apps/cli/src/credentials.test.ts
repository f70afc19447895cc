import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { CliError, credentialsPath, normalizeUrl, readStored, resolveCredentials, writeStored } from "./credentials.ts";

const home = () => mkdtempSync(path.join(os.tmpdir(), "paas-cli-home-"));

test("credentials are stored mode 600 under ~/.config/paas", () => {
  const env = { HOME: home() };
  const file = writeStored({ url: "http://localhost:3000", token: "paas_x" }, env);
  assert.equal(file, path.join(env.HOME, ".config/paas/credentials.json"));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readStored(env), { url: "http://localhost:3000", token: "paas_x" });
  assert.equal(credentialsPath({ XDG_CONFIG_HOME: "/x" }), "/x/paas/credentials.json");
});

test("PAAS_URL and PAAS_TOKEN override the stored credentials", () => {
  const env: NodeJS.ProcessEnv = { HOME: home() };
  assert.throws(() => resolveCredentials(env), (e: Error) => e instanceof CliError && /paas login/.test(e.message));
  writeStored({ url: "http://stored:3000", token: "paas_stored" }, env);
  assert.deepEqual(resolveCredentials(env), { url: "http://stored:3000", token: "paas_stored" });
  assert.deepEqual(resolveCredentials({ ...env, PAAS_URL: "http://env:4000/", PAAS_TOKEN: "paas_env" }), {
    url: "http://env:4000",
    token: "paas_env",
  });
});

test("normalizeUrl adds a scheme and drops trailing slashes", () => {
  assert.equal(normalizeUrl("localhost:3000"), "http://localhost:3000");
  assert.equal(normalizeUrl(" https://paas.example.com/ "), "https://paas.example.com");
  assert.throws(() => normalizeUrl("http://"), CliError);
});
