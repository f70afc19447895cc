/**
 * Images: stacks (python), tag/history/rmi/prune, OCI layout and docker save/load
 * round trips, import of a rootfs tarball, commit and diff. Real containers, as root.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Runtime } from "../src/containers.ts";
import { testRuntime } from "./helpers.ts";

const MiB = 1 << 20;
let rt: Runtime;
let cleanup: () => Promise<void>;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "paas-img-test-"));

before(async () => {
  ({ rt, cleanup } = await testRuntime("m", 40));
});
after(async () => {
  await cleanup();
  fs.rmSync(scratch, { recursive: true, force: true });
});

async function runIn(image: string, script: string, memoryBytes = 256 * MiB): Promise<{ code: number; out: string[] }> {
  const c = rt.create({ image, cmd: ["sh", "-c", script], memoryBytes, cgroupParent: "t/img", network: "none" });
  await rt.start(c.id);
  const w = await rt.wait(c.id);
  const out: string[] = [];
  for await (const l of rt.logLines(c.id)) out.push((JSON.parse(l) as { line: string }).line);
  await rt.remove(c.id);
  return { code: w.exitCode, out };
}

describe("stack/python", () => {
  test("has ssl, sqlite3 and json; makes a virtualenv; pip installs a local wheel offline into it", async () => {
    // A minimal pure-python wheel, zipped by the host's python.
    const whl = path.join(scratch, "hello_paas-0.1-py3-none-any.whl");
    const py = spawnSync("python3", ["-c", `
import zipfile, sys
z = zipfile.ZipFile(sys.argv[1], "w")
z.writestr("hello_paas/__init__.py", "def hi():\\n    return 'hi from wheel'\\n")
z.writestr("hello_paas-0.1.dist-info/METADATA", "Metadata-Version: 2.1\\nName: hello-paas\\nVersion: 0.1\\n")
z.writestr("hello_paas-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
z.writestr("hello_paas-0.1.dist-info/RECORD", "")
z.close()
`, whl]);
    assert.equal(py.status, 0, py.stderr?.toString());
    const c = rt.create({ image: "stack/python", cmd: ["sh", "-c", "python3 -c 'import ssl, sqlite3, json; print(1)' && python3 -m venv /tmp/v && /tmp/v/bin/python -c 'print(2)' && /tmp/v/bin/pip install -q --no-index --disable-pip-version-check /app/hello_paas-0.1-py3-none-any.whl && /tmp/v/bin/python -c 'import hello_paas; print(hello_paas.hi())'"], memoryBytes: 256 * MiB, cgroupParent: "t/img", network: "none" });
    await rt.putArchive(c.id, "/app", (await import("node:stream")).Readable.from(spawnSync("tar", ["-C", scratch, "-cf", "-", path.basename(whl)]).stdout));
    await rt.start(c.id);
    const w = await rt.wait(c.id);
    const out: string[] = [];
    for await (const l of rt.logLines(c.id)) out.push((JSON.parse(l) as { line: string }).line);
    await rt.remove(c.id);
    assert.deepEqual({ code: w.exitCode, out }, { code: 0, out: ["1", "2", "hi from wheel"] });
  });

  test("stacks carry their source's version and are not rebuilt when it did not change", async () => {
    const { ensureStacks } = await import("../src/stacks.ts");
    const before = rt.images.resolve("stack/python").id;
    assert.match(rt.images.resolve("stack/python").config.labels?.["paas.stack.source"] ?? "", /python3\.\d+ 3\.\d+\.\d+ /);
    assert.match(rt.images.resolve("stack/node").config.labels?.["paas.stack.source"] ?? "", / v\d+\.\d+\.\d+ /);
    assert.deepEqual(await ensureStacks(rt.images), []);
    assert.equal(rt.images.resolve("stack/python").id, before);
  });
});
