import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { detect, DetectError } from "./detect.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "detect-"));
  for (const [name, body] of Object.entries(files)) await fs.writeFile(path.join(dir, name), body);
  return dir;
}

test("a Node app's web process is npm start", async () => {
  const d = await detect(await tree({ "package.json": '{"scripts":{"start":"node a.js"}}' }));
  assert.deepEqual(d, { builder: "node", processTypes: { web: "npm start" } });
});

test("a Procfile's types win over the start script", async () => {
  const d = await detect(
    await tree({ "package.json": '{"scripts":{"start":"node a.js"}}', Procfile: "web: node b.js\nworker: node w.js" }),
  );
  assert.deepEqual(d.processTypes, { web: "node b.js", worker: "node w.js" });
});

test("invalid package.json fails with the parser's reason", async () => {
  await assert.rejects(detect(await tree({ "package.json": '{"scripts": {' })), (e: Error) => e instanceof DetectError && /not valid JSON/.test(e.message));
});

test("a Node app without a web process is refused", async () => {
  await assert.rejects(detect(await tree({ "package.json": "{}" })), /no web process/);
});

test("an unknown app type lists what is supported", async () => {
  await assert.rejects(detect(await tree({ "README.md": "hi" })), /supported: .*package\.json/);
});
