/**
 * Images: stack/python with a wheel, tag/history/rmi/prune, OCI layout and docker save/load
 * round trips, import of a rootfs tarball, commit and diff. Real containers, as root.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { AddressInfo } from "node:net";
import { AgentClient, AgentError } from "@paas/shared/agent-api";
import { createAgentServer } from "../src/agent/server.ts";
import type { Runtime } from "../src/containers.ts";
import { Layout } from "../src/paths.ts";
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
});

describe("image store", () => {
  test("tag, history, rmi refused while in use, prune of unreferenced layers", async () => {
    const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", "echo hi > /hello; rm /bin/vi"], memoryBytes: 32 * MiB, cgroupParent: "t/img", network: "none" });
    await rt.start(c.id);
    await rt.wait(c.id);
    const img = await rt.commit(c.id, "test/hist:v1");
    await rt.remove(c.id);
    rt.images.tag("test/hist:v1", "test/hist:other");
    assert.deepEqual(rt.images.resolve("test/hist:other").id, img.id);
    assert.deepEqual(rt.images.resolve(img.id.slice(7, 19)).names.sort(), ["test/hist:other", "test/hist:v1"]);
    const h = rt.images.history("test/hist:v1");
    assert.equal(h.length, 2);
    assert.match(h[0].created_by ?? "", /^commit .*echo hi > \/hello/);
    assert.equal(h[0].layer, img.layers[1]);
    assert.ok(h[0].sizeBytes > 0 && h[1].sizeBytes > 1_000_000);
    assert.throws(() => rt.images.tag("test/hist:v1", "Bad Name"), /bad image name/);

    const user = rt.create({ image: "test/hist:v1", cmd: ["true"], memoryBytes: 32 * MiB, cgroupParent: "t/img", network: "none" });
    assert.deepEqual(rt.images.remove("test/hist:other"), ["test/hist:other"]); // another name is left: just untagged
    assert.throws(() => rt.images.remove("test/hist:v1"), (e: Error & { status?: number }) => e.status === 409 && new RegExp(user.name).test(e.message));
    assert.deepEqual(rt.images.remove("test/hist:v1", true), ["test/hist:v1"]); // forced: untagged, image kept for its container
    assert.ok(rt.images.find(img.id));
    assert.deepEqual(rt.images.prune().images, []); // still used
    await rt.remove(user.id);
    const pruned = rt.images.prune();
    assert.deepEqual(pruned.images, [img.id]);
    assert.deepEqual(pruned.layers, [img.layers[1]]);
    assert.equal(fs.existsSync(new Layout(rt.opts.dataDir).layer(img.layers[1])), false);
    assert.ok(rt.images.find("stack/busybox"), "the base stays");
  });

  test("OCI layout and docker save round trips keep the image id (plain and gzip layers, whiteouts)", async () => {
    const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", "mkdir -p /data/x && echo 1 > /data/x/f && ln -s /data/x/f /data/l && rm -r /etc/hosts /bin/vi"], memoryBytes: 32 * MiB, cgroupParent: "t/img", network: "none" });
    await rt.start(c.id);
    await rt.wait(c.id);
    const img = await rt.commit(c.id, "test/rt:v1", { cmd: ["cat", "/data/l"] });
    await rt.remove(c.id);
    for (const gzip of [false, true]) {
      const file = path.join(scratch, `save-${gzip}.tar`);
      await rt.images.save(["test/rt:v1"], fs.createWriteStream(file), { gzip });
      const entries = spawnSync("tar", ["-tf", file], { encoding: "utf8" }).stdout.split("\n");
      for (const e of ["oci-layout", "index.json", "manifest.json"]) assert.ok(entries.includes(e), e);
      const dir = path.join(scratch, `layout-${gzip}`);
      fs.mkdirSync(dir);
      spawnSync("tar", ["-C", dir, "-xf", file]);
      const index = JSON.parse(fs.readFileSync(path.join(dir, "index.json"), "utf8"));
      assert.equal(index.manifests[0].mediaType, "application/vnd.oci.image.manifest.v1+json");
      assert.equal(index.manifests[0].annotations["io.containerd.image.name"], "test/rt:v1");
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "blobs/sha256", index.manifests[0].digest.slice(7)), "utf8"));
      assert.equal(manifest.config.digest, img.id, "the image id is the config's digest");
      assert.equal(manifest.layers[0].mediaType, gzip ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar");

      // into a fresh store: same id, and it runs
      const { rt: other, cleanup: cleanOther } = await testRuntime(`m${gzip ? "g" : "p"}`, gzip ? 42 : 41);
      try {
        other.images.remove("stack/busybox");
        other.images.prune();
        const [loaded] = await other.images.load(gzip ? dir : file); // a layout dir, and a tar
        assert.deepEqual(loaded.layers, img.layers);
        assert.equal(loaded.id, img.id);
        assert.deepEqual(loaded.names, ["test/rt:v1"]);
        assert.deepEqual(loaded.history?.map((x) => x.created_by), img.history?.map((x) => x.created_by));
        const d = other.create({ image: "test/rt:v1", memoryBytes: 32 * MiB, cgroupParent: "t/img", network: "none" });
        await other.start(d.id);
        assert.equal((await other.wait(d.id)).exitCode, 0);
        const out: string[] = [];
        for await (const l of other.logLines(d.id)) out.push(JSON.parse(l).line);
        assert.deepEqual(out, ["1"]);
        const e = other.create({ image: "test/rt:v1", cmd: ["sh", "-c", "test -e /bin/vi || echo vi-gone; test -e /etc/hosts.x || ls /bin/sh"], memoryBytes: 32 * MiB, cgroupParent: "t/img", network: "none" });
        await other.start(e.id);
        await other.wait(e.id);
        const out2: string[] = [];
        for await (const l of other.logLines(e.id)) out2.push(JSON.parse(l).line);
        assert.deepEqual(out2, ["vi-gone", "/bin/sh"]);
      } finally {
        await cleanOther();
      }
    }
  });

  test("a docker save tar (legacy layout: <id>/layer.tar, <hex>.json, RepoTags) loads and runs", async () => {
    const root = path.join(scratch, "docker-root");
    const save = path.join(scratch, "docker-save");
    fs.mkdirSync(path.join(root, "bin"), { recursive: true });
    fs.mkdirSync(path.join(save, "abc123"), { recursive: true });
    fs.copyFileSync("/bin/busybox", path.join(root, "bin/busybox"));
    fs.symlinkSync("busybox", path.join(root, "bin/sh"));
    fs.writeFileSync(path.join(root, "msg"), "from docker\n");
    assert.equal(spawnSync("tar", ["-C", root, "-cf", path.join(save, "abc123/layer.tar"), "."]).status, 0);
    const cfg = JSON.stringify({ architecture: "amd64", os: "linux", config: { Env: ["PATH=/bin", "GREETING=hey"], Cmd: ["/bin/sh", "-c", "echo $GREETING; /bin/busybox cat /msg"], WorkingDir: "/" }, rootfs: { type: "layers", diff_ids: ["sha256:" + "0".repeat(64)] } });
    fs.writeFileSync(path.join(save, "deadbeef.json"), cfg);
    fs.writeFileSync(path.join(save, "manifest.json"), JSON.stringify([{ Config: "deadbeef.json", RepoTags: ["docker.io/library/fromdocker:1"], Layers: ["abc123/layer.tar"] }]));
    const tarFile = path.join(scratch, "docker-save.tar");
    assert.equal(spawnSync("tar", ["-C", save, "-cf", tarFile, "."]).status, 0);
    const [img] = await rt.images.load(tarFile);
    assert.deepEqual(img.names, ["fromdocker:1"]);
    assert.equal(img.config.env.GREETING, "hey");
    const r = await (async () => {
      const c = rt.create({ image: "fromdocker:1", memoryBytes: 32 * MiB, cgroupParent: "t/img", network: "none" });
      await rt.start(c.id);
      const w = await rt.wait(c.id);
      const out: string[] = [];
      for await (const l of rt.logLines(c.id)) out.push(JSON.parse(l).line);
      await rt.remove(c.id);
      return { code: w.exitCode, out };
    })();
    assert.deepEqual(r, { code: 0, out: ["hey", "from docker"] });
    await assert.rejects(rt.images.load(path.join(root, "msg")), /not .*tar|neither/);
  });

  test("diff lists what a container added, changed and deleted", async () => {
    const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", "echo x > /new.txt; echo y >> /etc/passwd; rm /bin/vi"], memoryBytes: 32 * MiB, cgroupParent: "t/img", network: "none" });
    await rt.start(c.id);
    await rt.wait(c.id);
    const d = (await rt.diff(c.id)).map((e) => `${e.kind} ${e.path}`);
    await rt.remove(c.id);
    for (const want of ["C /bin", "D /bin/vi", "C /etc", "C /etc/passwd", "A /new.txt"]) assert.ok(d.includes(want), `${want} in ${JSON.stringify(d)}`);
  });

  test("rebase through the agent: an image built on one base runs on another; one not built on `from` is a 400 that changes nothing", async () => {
    const commitOf = async (image: string, script: string, name: string, cmd?: string[]) => {
      const c = rt.create({ image, cmd: ["sh", "-c", script], memoryBytes: 32 * MiB, cgroupParent: "t/img", network: "none" });
      await rt.start(c.id);
      await rt.wait(c.id);
      const img = await rt.commit(c.id, name, cmd ? { cmd } : undefined);
      await rt.remove(c.id);
      return img;
    };
    // A "build" base and a "run" base on busybox, and an app built on the first (its cmd set by the build).
    const build = await commitOf("stack/busybox", "echo build > /base; echo cc > /usr/bin/cc", "test/rb-build:1");
    const run = await commitOf("stack/busybox", "echo run > /base", "test/rb-run:1");
    const app = await commitOf("test/rb-build:1", "mkdir -p /app && echo v1 > /app/out", "test/rb-app:1", ["sh", "-c", "cat /base /app/out; test -e /usr/bin/cc && echo has-cc || echo no-cc"]);

    const server = createAgentServer(rt);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const client = new AgentClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const moved = await client.rebaseImage({ image: "test/rb-app:1", from: "test/rb-build:1", onto: "test/rb-run:1", name: "test/rb-app:1-run" });
      assert.deepEqual(moved.layers, [...run.layers, app.layers.at(-1)]);
      assert.deepEqual(moved.config, app.config);
      assert.deepEqual(moved.names, ["test/rb-app:1-run"]);
      // history: the run base's steps, then the app's own (not the build base's)
      assert.deepEqual(moved.history?.map((h) => h.created_by), [...run.history!.map((h) => h.created_by), app.history!.at(-1)!.created_by]);
      assert.deepEqual(await runIn("test/rb-app:1-run", "cat /base /app/out; test -e /usr/bin/cc && echo has-cc || echo no-cc"), { code: 0, out: ["run", "v1", "no-cc"] });
      const c = rt.create({ image: "test/rb-app:1-run", memoryBytes: 32 * MiB, cgroupParent: "t/img", network: "none" });
      await rt.start(c.id);
      assert.equal((await rt.wait(c.id)).exitCode, 0, "the app's own cmd runs");
      await rt.remove(c.id);

      const before = (await client.images()).map((i) => [i.id, i.names]);
      const refused = async (req: Parameters<AgentClient["rebaseImage"]>[0], says: RegExp, status = 400) => {
        const err = await client.rebaseImage(req).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof AgentError && err.status === status && says.test(err.message), `${JSON.stringify(req)}: ${err}`);
      };
      // built on rb-build, not rb-run: the layers above rb-run's would be another base's changes
      await refused({ image: "test/rb-app:1", from: "test/rb-run:1", onto: "stack/busybox", name: "test/rb-bad:1" }, /^cannot rebase test\/rb-app:1 from test\/rb-run:1: it was not built on test\/rb-run:1 \(its layer 2 is not test\/rb-run:1's layer 2; .*name the image it was built on as "from"$/);
      // from has more layers than the image
      await refused({ image: "stack/busybox", from: "test/rb-build:1", onto: "test/rb-run:1", name: "test/rb-bad:1" }, /it was not built on test\/rb-build:1 \(its layer 2 .*stack\/busybox 1\)/);
      await refused({ image: "test/rb-app:1", from: "test/rb-build:1", onto: "test/nope:1", name: "test/rb-bad:1" }, /no image "test\/nope:1"/, 404);
      await refused({ image: "test/rb-app:1", from: "test/rb-build:1", onto: "test/rb-run:1", name: "Bad Name" }, /bad image name "Bad Name"/);
      await refused({ image: "test/rb-app:1", from: "test/rb-build:1", onto: "test/rb-run:1" } as never, /^body\.name: expected string, got nothing$/);
      assert.deepEqual((await client.images()).map((i) => [i.id, i.names]), before, "a refused rebase changes nothing");
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
