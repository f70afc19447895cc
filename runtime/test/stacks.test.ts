/**
 * The stacks made from Debian's packages (runtime/src/stacks.ts): what each image has and runs
 * as, the official names on the same layers, apt in a container, a native build on the build
 * images and its rebase onto the run image, and the host-wide cache (one build for many data
 * dirs, one builder at a time). Real containers, as root; the first run on a machine makes the
 * Debian layers (minutes), every later one takes them from the cache.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { ContainerSpec } from "@paas/shared/agent-api";
import type { Runtime } from "../src/containers.ts";
import { ImageStore } from "../src/images.ts";
import { Layout } from "../src/paths.ts";
import { cachedLayer } from "../src/stacks/cache.ts";
import { testRuntime } from "./helpers.ts";

const MiB = 1 << 20;
let rt: Runtime;
let cleanup: () => Promise<void>;

before(async () => {
  ({ rt, cleanup } = await testRuntime("st", 85));
});
after(async () => cleanup());

async function runIn(image: string, script: string, spec: Partial<ContainerSpec> = {}): Promise<{ code: number; out: string }> {
  const c = rt.create({ image, cmd: ["bash", "-c", script], memoryBytes: 512 * MiB, cgroupParent: "t/st", network: "none", ...spec });
  await rt.start(c.id);
  const w = await rt.wait(c.id);
  const out: string[] = [];
  for await (const l of rt.logLines(c.id)) out.push((JSON.parse(l) as { line: string }).line);
  await rt.remove(c.id);
  return { code: w.exitCode, out: out.join("\n") };
}

const nodeMajor = process.version.slice(1).split(".")[0];

describe("the images", () => {
  test("stack/run: Debian 12 minbase, bash, /usr/bin/env, C.UTF-8, CA bundle, tzdata; runs as app (1000) in /app, which it owns", async () => {
    const r = await runIn("stack/run", 'id; pwd; stat -c %U /app; echo "$LANG $HOME"; . /etc/os-release; echo "$ID $VERSION_ID"; /usr/bin/env true && echo env; test -s /etc/ssl/certs/ca-certificates.crt && echo ca; test -f /usr/share/zoneinfo/Europe/Paris && echo tz; test -e /usr/share/man/man1/bash.1.gz || echo no-man');
    assert.deepEqual(r, { code: 0, out: ["uid=1000(app) gid=1000(app) groups=1000(app)", "/app", "app", "C.UTF-8 /home/app", "debian 12", "env", "ca", "tz", "no-man"].join("\n") });
  });

  test("stack/node: the host's node (NODE_VERSION and a label say which), npm, and an npm bin with #!/usr/bin/env node runs", async () => {
    const img = rt.images.resolve("stack/node");
    assert.equal(img.config.env.NODE_VERSION, process.version.slice(1));
    assert.equal(img.config.labels?.["paas.node.version"], process.version);
    const script = "mkdir -p node_modules/.bin && printf '#!/usr/bin/env node\\nconsole.log(\"bin ok\")\\n' > node_modules/.bin/hello && chmod +x node_modules/.bin/hello && node_modules/.bin/hello && node -v && npm -v >/dev/null && echo npm";
    assert.deepEqual(await runIn("stack/node", script), { code: 0, out: ["bin ok", process.version, "npm"].join("\n") });
  });

  test("build images are their run image's layers plus build tools: cc, make, python3, git, pkg-config", async () => {
    for (const [build, run] of [["stack/build", "stack/run"], ["stack/node-build", "stack/node"], ["stack/python-build", "stack/python"]]) {
      const b = rt.images.resolve(build).layers;
      const r = rt.images.resolve(run).layers;
      assert.deepEqual(b.slice(0, r.length), r, `${build} starts with ${run}'s layers`);
      assert.equal(b.length, r.length + 1);
    }
    const r = await runIn("stack/node-build", "cd /tmp && printf '#include <stdio.h>\\nint main(){puts(\"compiled\");}\\n' > a.c && cc -o a a.c && ./a && make --version | head -1 | cut -d' ' -f1,2 && python3 -c 'print(\"py\")' && git --version | cut -d' ' -f1 && pkg-config --version >/dev/null && echo pkg-config");
    assert.deepEqual(r, { code: 0, out: ["compiled", "GNU Make", "py", "git", "pkg-config"].join("\n") });
  });

  test("stack/python: Debian's python3 (PYTHON_VERSION) with venv; stack/python-build compiles a C extension against Python.h", async () => {
    const v = rt.images.resolve("stack/python").config.env.PYTHON_VERSION;
    assert.match(v, /^3\.\d+\.\d+$/);
    const r = await runIn("stack/python", "python3 -c 'import sys, ssl, sqlite3; print(\"%d.%d.%d\" % sys.version_info[:3])' && python3 -m venv /tmp/v && /tmp/v/bin/pip --version | cut -d' ' -f1");
    assert.deepEqual(r, { code: 0, out: [v, "pip"].join("\n") });
    const ext = `cd /tmp && cat > m.c <<'EOF'
#include <Python.h>
static PyObject *hi(PyObject *s, PyObject *a) { return PyUnicode_FromString("from C"); }
static PyMethodDef M[] = {{"hi", hi, METH_NOARGS, 0}, {0}};
static struct PyModuleDef D = {PyModuleDef_HEAD_INIT, "m", 0, -1, M};
PyMODINIT_FUNC PyInit_m(void) { return PyModule_Create(&D); }
EOF
cc -shared -fPIC $(python3-config --includes) m.c -o m$(python3-config --extension-suffix) && python3 -c 'import m; print(m.hi())'`;
    assert.deepEqual(await runIn("stack/python-build", ext), { code: 0, out: "from C" });
  });

  test("official names: the same layers with Docker's config (root, workdir /); the host's node major and Debian's python minor as tags", async () => {
    const minor = rt.images.resolve("stack/python").config.env.PYTHON_VERSION.split(".").slice(0, 2).join(".");
    const same: [string[], string][] = [
      [["debian:bookworm-slim", "debian:12-slim"], "stack/run"],
      [["debian:bookworm", "debian:12", "debian:latest", "debian"], "stack/build"],
      [[`node:${nodeMajor}-slim`, `node:${nodeMajor}-bookworm-slim`, "node:slim"], "stack/node"],
      [[`node:${nodeMajor}`, `node:${nodeMajor}-bookworm`, "node:bookworm", "node", "node:latest"], "stack/node-build"],
      [[`python:${minor}-slim`, `python:${minor}-slim-bookworm`, "python:slim"], "stack/python"],
      [[`python:${minor}`, `python:${minor}-bookworm`, "python:3", "python", "python:latest"], "stack/python-build"],
    ];
    for (const [names, stack] of same) {
      for (const n of names) {
        const img = rt.images.resolve(n);
        assert.deepEqual(img.layers, rt.images.resolve(stack).layers, `${n} has ${stack}'s layers`);
        assert.equal(img.config.user, undefined, `${n} runs as root`);
        assert.equal(img.config.workdir, "/");
      }
    }
    assert.deepEqual(rt.images.resolve("node:slim").config.cmd, ["node"]);
    assert.deepEqual(rt.images.resolve("python:slim").config.cmd, ["python3"]);
    assert.deepEqual(await runIn(`node:${nodeMajor}-slim`, "id -u; pwd; node -e 'console.log(process.version)'"), { code: 0, out: ["0", "/", process.version].join("\n") });
  });

  test("apt-get update && apt-get install in a container (root in a user namespace) reaches the host's apt sources", { skip: process.env.PAAS_TEST_OFFLINE ? "PAAS_TEST_OFFLINE set" : false, timeout: 300_000 }, async () => {
    const r = await runIn(`node:${nodeMajor}-slim`, "apt-get update -qq && apt-get install -y -qq --no-install-recommends curl >/dev/null && curl --version | head -1 | cut -d' ' -f1 && ls /var/cache/apt/archives/*.deb 2>/dev/null | wc -l", { network: "bridge", egress: true, memoryBytes: 1024 * MiB });
    // (apt's stderr, debconf's "delaying package configuration" among it, comes before)
    assert.deepEqual({ code: r.code, last: r.out.split("\n").slice(-2) }, { code: 0, last: ["curl", "0"] }, `curl installed, no .deb kept: ${r.out}`);
  });

  test("an app built on stack/node-build, rebased onto stack/node: its files and config, no compiler", async () => {
    const c = rt.create({ image: "stack/node-build", cmd: ["bash", "-c", "printf 'int main(){return 0;}' > /tmp/x.c && cc -o /app/native /tmp/x.c && echo 'console.log(\"served\")' > /app/server.js"], memoryBytes: 512 * MiB, cgroupParent: "t/st", network: "none" });
    await rt.start(c.id);
    assert.equal((await rt.wait(c.id)).exitCode, 0);
    await rt.commit(c.id, "test/st-app:build", { cmd: ["node", "server.js"] });
    await rt.remove(c.id);
    const moved = rt.images.rebase({ image: "test/st-app:build", from: "stack/node-build", onto: "stack/node", name: "test/st-app:run" });
    assert.deepEqual(moved.layers.slice(0, -1), rt.images.resolve("stack/node").layers);
    assert.deepEqual(moved.config.cmd, ["node", "server.js"]);
    assert.deepEqual(await runIn("test/st-app:run", "node server.js && ./native && echo native-ran; command -v cc || echo no-cc"), { code: 0, out: ["served", "native-ran", "no-cc"].join("\n") });
    assert.ok(moved.sizeBytes < rt.images.resolve("test/st-app:build").sizeBytes - 100 * MiB, "the compilers are not in the run image");
  });

  test("ensureStacks again changes nothing", async () => {
    const ids = rt.images.list().map((i) => [i.id, i.names.sort()]);
    assert.deepEqual(await rt.images.ensureStacks(), []);
    assert.deepEqual(rt.images.list().map((i) => [i.id, i.names.sort()]), ids);
  });
});

describe("the host-wide cache", () => {
  test("several data dirs at once: the layer is built once, under the lock, and the others get it as hard links", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "paas-stack-cache-"));
    const saved = process.env.PAAS_STACK_CACHE;
    process.env.PAAS_STACK_CACHE = path.join(tmp, "cache");
    try {
      const stores = [1, 2, 3].map((i) => new ImageStore(new Layout(path.join(tmp, `data${i}`))));
      let builds = 0;
      let inside = 0;
      const build = (store: ImageStore) => async () => {
        builds++;
        assert.equal(++inside, 1, "one builder at a time");
        const dir = path.join(store.layout.tmp, "made");
        fs.mkdirSync(path.join(dir, "etc"), { recursive: true });
        fs.writeFileSync(path.join(dir, "etc/made"), "once\n");
        await new Promise((r) => setTimeout(r, 200)); // the others reach the lock meanwhile
        inside--;
        return store.addLayerFromDir(dir, true);
      };
      const digests = await Promise.all(stores.map((s) => cachedLayer(s, "test layer", build(s))));
      assert.equal(builds, 1);
      assert.equal(new Set(digests).size, 1);
      const inodes = stores.map((s) => fs.statSync(path.join(s.layout.layer(digests[0]), "etc/made")).ino);
      assert.equal(new Set(inodes).size, 1, "one file on disk, linked into each data dir");
      assert.equal(await cachedLayer(stores[0], "another recipe", build(stores[0])) !== undefined, true);
      assert.equal(builds, 2, "another key is another build");
    } finally {
      if (saved === undefined) delete process.env.PAAS_STACK_CACHE;
      else process.env.PAAS_STACK_CACHE = saved;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
