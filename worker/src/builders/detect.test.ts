import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { detect, DetectError } from "./detect.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "detect-"));
  for (const [name, body] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), body);
  }
  return dir;
}

const NODE = '{"scripts":{"start":"node a.js"}}';

test("a Node app's web process is npm start", async () => {
  const d = await detect(await tree({ "package.json": NODE }));
  assert.deepEqual(d, { builder: "node", processTypes: { web: "npm start" }, reason: "package.json" });
});

test("a Procfile's types win over the start script", async () => {
  const d = await detect(await tree({ "package.json": NODE, Procfile: "web: node b.js\nworker: node w.js" }));
  assert.deepEqual(d.processTypes, { web: "node b.js", worker: "node w.js" });
});

test("invalid package.json fails with the parser's reason", async () => {
  await assert.rejects(detect(await tree({ "package.json": '{"scripts": {' })), (e: Error) => e instanceof DetectError && /not valid JSON/.test(e.message));
});

test("a Node app without a web process is refused", async () => {
  await assert.rejects(detect(await tree({ "package.json": "{}" })), /no web process/);
});

test("an unknown app type lists every supported type", async () => {
  await assert.rejects(detect(await tree({ "README.md": "hi" })), (e: Error) => {
    for (const s of ["Dockerfile", "package.json", "requirements.txt", "Pipfile", "pyproject.toml", "index.html", "static.json", "public/"]) {
      assert.ok(e.message.includes(s), `${s} in: ${e.message}`);
    }
    return e instanceof DetectError;
  });
});

test("the order: Dockerfile, then Node, then Python, then static", async () => {
  const all = { Dockerfile: "FROM stack/node\n", "package.json": NODE, "requirements.txt": "", "app.py": "", "index.html": "" };
  assert.equal((await detect(await tree(all))).builder, "dockerfile");
  const { Dockerfile: _d, ...noDocker } = all;
  assert.equal((await detect(await tree(noDocker))).builder, "node");
  const { "package.json": _p, ...py } = noDocker;
  assert.equal((await detect(await tree(py))).builder, "python");
  assert.equal((await detect(await tree({ "index.html": "" }))).builder, "static");
  assert.equal((await detect(await tree({ "static.json": "{}" }))).builder, "static");
  assert.equal((await detect(await tree({ "public/index.html": "" }))).reason, "public/");
});

test("a Dockerfile app's web process comes from its Procfile, or later from the image", async () => {
  assert.deepEqual((await detect(await tree({ Dockerfile: "FROM stack/node\n" }))).processTypes, {});
  assert.deepEqual((await detect(await tree({ Dockerfile: "FROM stack/node\n", Procfile: "web: x" }))).processTypes, { web: "x" });
});

test("Python defaults: python app.py / main.py, gunicorn when it is a requirement", async () => {
  assert.equal((await detect(await tree({ "requirements.txt": "", "app.py": "" }))).processTypes.web, "python app.py");
  assert.equal((await detect(await tree({ "pyproject.toml": "", "main.py": "" }))).processTypes.web, "python main.py");
  assert.equal(
    (await detect(await tree({ "requirements.txt": "flask\ngunicorn==22.0\n", "app.py": "" }))).processTypes.web,
    "gunicorn --bind 0.0.0.0:$PORT app:app",
  );
  await assert.rejects(detect(await tree({ "requirements.txt": "" })), /no web process: add app\.py/);
});

test("a Pipfile (or its lock alone) is a Python app; gunicorn in the Pipfile makes it the web server", async () => {
  const pipenv = await detect(await tree({ Pipfile: '[packages]\nflask = "*"\ngunicorn = "*"\n', "app.py": "" }));
  assert.deepEqual([pipenv.builder, pipenv.reason, pipenv.processTypes.web], ["python", "Pipfile", "gunicorn --bind 0.0.0.0:$PORT app:app"]);
  assert.equal((await detect(await tree({ "Pipfile.lock": "{}", "main.py": "" }))).reason, "Pipfile.lock");
  assert.equal((await detect(await tree({ "requirements.txt": "", Pipfile: "", "app.py": "" }))).reason, "requirements.txt");
});

test("static sites get the static server as web", async () => {
  const d = await detect(await tree({ "index.html": "<h1>hi</h1>" }));
  assert.deepEqual(d, { builder: "static", processTypes: { web: "node /opt/paas/static-server.mjs" }, reason: "index.html" });
});

test("PAAS_BUILDER forces a builder, and a wrong value says which are valid", async () => {
  const d = await detect(await tree({ "package.json": NODE, "index.html": "" }), "static");
  assert.equal(d.builder, "static");
  assert.equal(d.reason, "PAAS_BUILDER");
  await assert.rejects(detect(await tree({ "index.html": "" }), "ruby"), /not a builder; use one of dockerfile, node, python, static/);
  await assert.rejects(detect(await tree({ "index.html": "" }), "node"), /no package\.json/);
});

test("a Node app with a build script and no start is a static build; a start script or a Procfile web makes it a server", async () => {
  const vite = '{"scripts":{"build":"vite build"}}';
  const d = await detect(await tree({ "package.json": vite, "index.html": "<h1>x</h1>" }));
  assert.equal(d.builder, "node");
  assert.equal(d.staticBuild, true);
  assert.equal(d.processTypes.web, "node /opt/paas/static-server.mjs");
  assert.equal((await detect(await tree({ "package.json": '{"scripts":{"build":"tsc","start":"node dist/a.js"}}' }))).staticBuild, undefined);
  assert.equal((await detect(await tree({ "package.json": vite, Procfile: "web: node serve.js" }))).staticBuild, undefined);
});
