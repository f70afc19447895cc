/**
 * The runtime on real kernel features (root): namespaces, cgroup limits, overlay,
 * bridge networking, commit, and clean removal. Own data dir, bridge, subnet, cgroup root.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { cgroups, makeTar, testRuntime } from "./helpers.ts";
import type { Runtime } from "../src/containers.ts";
import { netnsName, vethName } from "../src/network.ts";
import { Layout } from "../src/paths.ts";

const MiB = 1 << 20;
let rt: Runtime;
let cleanup: () => Promise<void>;

async function logs(id: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of rt.logLines(id)) out.push(JSON.parse(l).line);
  return out;
}

before(async () => {
  ({ rt, cleanup } = await testRuntime("a", 1));
});
after(async () => {
  await cleanup();
});

describe("runtime", () => {
  test("container init is pid 1 and has its own hostname", async () => {
    const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", "echo $$; hostname; cat /proc/self/status | grep NoNewPrivs"], hostname: "boxy", memoryBytes: 32 * MiB, cgroupParent: "t/app", network: "none" });
    const started = await rt.start(c.id);
    assert.equal(started.state === "running" || started.state === "exited", true);
    const w = await rt.wait(c.id);
    assert.deepEqual(w, { exitCode: 0, oomKilled: false });
    const lines = await logs(c.id);
    assert.equal(lines[0], "1");
    assert.equal(lines[1], "boxy");
    assert.match(lines[2], /NoNewPrivs:\s+1/);
    assert.equal(rt.get(c.id).state, "exited");
    await rt.remove(c.id);
  });

  test("a bad command fails start with a reason", async () => {
    const c = rt.create({ image: "stack/busybox", cmd: ["/no/such/program"], memoryBytes: 32 * MiB, cgroupParent: "t/app", network: "none" });
    await assert.rejects(rt.start(c.id), /exec \/no\/such\/program/);
    await rt.remove(c.id);
  });

  test("the memory limit OOM-kills and wait reports it", async () => {
    // busybox sh grows a string until the 16 MiB limit kills it
    const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", 'x=0123456789abcdef; while true; do x="$x$x"; done'], memoryBytes: 16 * MiB, cgroupParent: "t/app", network: "none" });
    await rt.start(c.id);
    const w = await rt.wait(c.id);
    assert.equal(w.oomKilled, true);
    assert.notEqual(w.exitCode, 0);
    await rt.remove(c.id);
  });

  test("putArchive + commit give an image whose new layer holds the files", async () => {
    const c = rt.create({ image: "stack/node", cmd: ["sh", "-c", "cat /app/hello.txt && echo built > /app/out.txt && rm /etc/group"], memoryBytes: 128 * MiB, cgroupParent: "t/build", network: "none" });
    await rt.putArchive(c.id, "/app", Readable.from(makeTar({ "hello.txt": "hello from tar\n", "src/index.js": "console.log(1)\n" })));
    await rt.start(c.id);
    // runs as app (uid 1000): it could write into /app, which putArchive filled
    assert.deepEqual(await rt.wait(c.id), { exitCode: 1, oomKilled: false }); // rm /etc/group: no permission as app
    assert.deepEqual(await logs(c.id), ["hello from tar", "rm: cannot remove '/etc/group': Permission denied"]);
    const img = await rt.commit(c.id, "test/app:v1", { cmd: ["node", "src/index.js"] });
    const base = rt.images.resolve("stack/node");
    assert.equal(img.layers.length, base.layers.length + 1);
    assert.deepEqual(img.layers.slice(0, -1), base.layers);
    assert.deepEqual(img.config.cmd, ["node", "src/index.js"]);
    assert.equal(img.config.workdir, "/app");
    const top = new Layout(rt.opts.dataDir).layer(img.layers.at(-1)!);
    assert.equal(fs.readFileSync(`${top}/app/hello.txt`, "utf8"), "hello from tar\n");
    assert.equal(fs.readFileSync(`${top}/app/out.txt`, "utf8"), "built\n");
    assert.equal(fs.statSync(`${top}/app/out.txt`).uid, 1000);
    await rt.remove(c.id);

    // the new image runs
    const d = rt.create({ image: "test/app:v1", memoryBytes: 128 * MiB, cgroupParent: "t/app", network: "none" });
    await rt.start(d.id);
    assert.equal((await rt.wait(d.id)).exitCode, 0);
    assert.deepEqual(await logs(d.id), ["1"]);
    await rt.remove(d.id);
    assert.deepEqual(rt.images.remove("test/app:v1").includes("test/app:v1"), true);
    assert.equal(fs.existsSync(top), false, "the unused layer is collected");
  });

  test("deleting a file of the image is committed as a whiteout", async () => {
    const c = rt.create({ image: "stack/busybox", cmd: ["sh", "-c", "rm /etc/hostname.x 2>/dev/null; rm /bin/vi && mkdir -p /data && echo x > /data/f"], memoryBytes: 32 * MiB, cgroupParent: "t/app", network: "none" });
    await rt.start(c.id);
    assert.equal((await rt.wait(c.id)).exitCode, 0);
    await rt.commit(c.id, "test/nov:1");
    const d = rt.create({ image: "test/nov:1", cmd: ["sh", "-c", "test -e /bin/vi && echo vi-present || echo vi-gone; cat /data/f"], memoryBytes: 32 * MiB, cgroupParent: "t/app", network: "none" });
    await rt.start(d.id);
    await rt.wait(d.id);
    assert.deepEqual(await logs(d.id), ["vi-gone", "x"]);
    await rt.remove(c.id);
    await rt.remove(d.id);
  });

  test("two containers get their own addresses; the host reaches a TCP server in one", async () => {
    const server = "const net=require('net');net.createServer(s=>{s.end('hi from '+require('os').hostname()+' pid '+process.pid+'\\n')}).listen(8080,()=>console.log('listening'))";
    const a = rt.create({ image: "stack/node", name: "web-a", cmd: ["node", "-e", server], memoryBytes: 128 * MiB, cgroupParent: "t/app", network: "bridge" });
    const b = rt.create({ image: "stack/busybox", name: "web-b", cmd: ["sleep", "30"], memoryBytes: 32 * MiB, cgroupParent: "t/app", network: "bridge" });
    const ia = await rt.start(a.id);
    const ib = await rt.start(b.id);
    assert.ok(ia.ip && ib.ip);
    assert.notEqual(ia.ip, ib.ip);
    assert.match(ia.ip!, /^10\.99\.1\.\d+$/);
    // wait for "listening" in the follow stream
    for await (const l of rt.logLines(a.id, { follow: true })) if (JSON.parse(l).line === "listening") break;
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(8080, ia.ip!);
      let data = "";
      s.on("data", (d) => (data += d));
      s.on("end", () => resolve(data));
      s.on("error", reject);
    });
    assert.equal(answer, "hi from web-a pid 1\n");
    // stop: node as pid 1 ignores SIGTERM without a handler; SIGKILL follows after the timeout
    const t = Date.now();
    const stopped = await rt.stop(a.id, 1);
    assert.equal(stopped.state, "exited");
    assert.ok(Date.now() - t < 5000);
    await rt.remove(b.id, { force: true });
    await rt.remove(a.id);
  });

  test("an address used again comes with the same MAC: the host's neighbour entry for it stays right", async () => {
    const server = "require('net').createServer(s=>s.end(require('os').hostname())).listen(8080,()=>console.log('listening'))";
    const ask = async (ip: string) => {
      const s = net.connect(8080, ip);
      let data = "";
      s.on("data", (d) => (data += d));
      await new Promise((r, j) => (s.on("end", r), s.on("error", j)));
      return data;
    };
    const macs: string[] = [];
    let ip = "";
    for (const name of ["first", "second"]) {
      const c = rt.create({ image: "stack/node", name, cmd: ["node", "-e", server], memoryBytes: 128 * MiB, cgroupParent: "t/app", network: "bridge" });
      const info = await rt.start(c.id);
      if (ip) assert.equal(info.ip, ip, "the freed address is handed out again");
      ip = info.ip!;
      macs.push(fs.readFileSync(`/proc/${info.pid}/root/sys/class/net/eth0/address`, "utf8").trim());
      if (name === "first") {
        for await (const l of rt.logLines(c.id, { follow: true })) if (JSON.parse(l).line === "listening") break;
        assert.equal(await ask(ip), "first"); // the host learns first's MAC
      }
      await rt.remove(c.id, { force: true });
    }
    assert.equal(macs[0], macs[1]);
    assert.match(macs[0], /^02:50:0a:63:01:[0-9a-f]{2}$/);
  });

  test("remove leaves no netns, veth, cgroup, address or directory behind", async () => {
    const c = rt.create({ image: "stack/busybox", cmd: ["sleep", "60"], memoryBytes: 32 * MiB, cgroupParent: "t/gone", network: "bridge", egress: true });
    const info = await rt.start(c.id);
    assert.equal(info.state, "running");
    assert.ok(fs.existsSync(`/run/netns/${netnsName(c.id)}`));
    assert.ok(fs.existsSync(`/sys/class/net/${vethName(c.id)}`));
    const cg = rt.inspect(c.id).cgroup;
    assert.equal(cg, `${rt.opts.cgroupRoot}/t/gone/${c.id}`);
    assert.ok(cgroups.exists(cg));
    assert.equal(cgroups.readLimits(cg).memoryBytes, 32 * MiB);
    const dirs = cgroups.dirs(cg);
    await assert.rejects(rt.remove(c.id), /running/);
    await rt.remove(c.id, { force: true });
    assert.equal(fs.existsSync(`/run/netns/${netnsName(c.id)}`), false);
    assert.equal(fs.existsSync(`/sys/class/net/${vethName(c.id)}`), false);
    assert.equal(cgroups.exists(cg), false);
    for (const d of dirs) assert.equal(fs.existsSync(d), false, `${d} removed`);
    assert.equal(rt.addressOf(c.id), undefined);
    assert.equal(fs.existsSync(new Layout(rt.opts.dataDir).container(c.id)), false);
    // no mount of the container is visible on the host (the overlay lives in its own mount ns)
    assert.equal(fs.readFileSync("/proc/self/mountinfo", "utf8").includes(c.id), false);
    assert.throws(() => rt.get(c.id), /no container/);
  });

  test("a removed container's files are deleted after remove returns; what a process left undeleted goes at the next init", async () => {
    const trash = new Layout(rt.opts.dataDir).trash;
    const c = rt.create({ name: "again", image: "stack/busybox", cmd: ["true"], memoryBytes: 32 * MiB, cgroupParent: "t/a", network: "none" });
    await rt.remove(c.id);
    assert.throws(() => rt.get(c.id), /no container/);
    assert.ok(rt.create({ name: "again", image: "stack/busybox", cmd: ["true"], memoryBytes: 32 * MiB, cgroupParent: "t/a", network: "none" }), "its name is free at once");
    await rt.remove("again");
    await rt.idle();
    assert.deepEqual(fs.readdirSync(trash), []);
    // as a process that exited before its deletion ran would leave it
    fs.mkdirSync(`${trash}/left.0123/upper/deep`, { recursive: true });
    fs.writeFileSync(`${trash}/left.0123/upper/deep/f`, "x");
    await rt.init();
    await rt.idle();
    assert.deepEqual(fs.readdirSync(trash), []);
  });
});
