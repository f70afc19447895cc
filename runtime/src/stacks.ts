/**
 * Base images ("stacks") made from the host, offline:
 *   stack/busybox  busybox (Debian's busybox-static) + /etc basics; runs as root
 *   stack/node     the busybox layer + a layer with the host's node, its shared libraries,
 *                  npm, the CA bundle; runs as `app` (uid 1000) in /app
 * `ensureStacks()` builds what is missing (a few seconds: mostly copying and hashing node).
 */
import fs from "node:fs";
import path from "node:path";
import type { ImageConfig } from "@paas/shared/agent-api";
import { ImageStore } from "./images.ts";
import { RuntimeError, exists, randomHex, run, runOk } from "./util.ts";

const PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

async function findBusybox(): Promise<string> {
  for (const p of ["/bin/busybox", "/usr/bin/busybox"]) {
    if (exists(p)) {
      const r = await run("ldd", [p]);
      // busybox-static: "not a dynamic executable"
      if (r.code !== 0 || /not a dynamic/.test(r.stdout + r.stderr)) return p;
    }
  }
  const r = await run("sh", ["-c", "flock /tmp/apt.lock apt-get install -y busybox-static"]);
  if (r.code !== 0 || !exists("/bin/busybox")) {
    throw new RuntimeError(`busybox-static is needed for the stacks and could not be installed: ${r.stderr.trim()}; run apt-get install -y busybox-static`);
  }
  return "/bin/busybox";
}

function write(root: string, rel: string, text: string, mode = 0o644) {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text, { mode });
  fs.chmodSync(p, mode);
}

function mkdirs(root: string, dirs: [string, number, number?][]) {
  for (const [d, mode, owner] of dirs) {
    const p = path.join(root, d);
    fs.mkdirSync(p, { recursive: true });
    fs.chmodSync(p, mode);
    if (owner !== undefined) fs.chownSync(p, owner, owner);
  }
}

async function busyboxLayer(store: ImageStore): Promise<string> {
  const bb = await findBusybox();
  const root = path.join(store.layout.tmp, `stack-${randomHex(6)}`);
  mkdirs(root, [
    ["bin", 0o755], ["sbin", 0o755], ["usr/bin", 0o755], ["usr/sbin", 0o755], ["usr/local/bin", 0o755], ["etc", 0o755],
    ["tmp", 0o1777], ["root", 0o700], ["proc", 0o555], ["sys", 0o555], ["dev", 0o755], ["var/tmp", 0o1777],
    ["home/app", 0o755, 1000], ["app", 0o755, 1000],
  ]);
  fs.copyFileSync(bb, path.join(root, "bin/busybox"));
  fs.chmodSync(path.join(root, "bin/busybox"), 0o755);
  const applets = (await runOk(bb, ["--list"])).split("\n").filter((a) => a && a !== "busybox");
  for (const a of applets) fs.symlinkSync("busybox", path.join(root, "bin", a));
  write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  write(root, "etc/group", "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n");
  // Placeholders: the runtime bind-mounts each container's own files over these.
  write(root, "etc/resolv.conf", "");
  write(root, "etc/hosts", "");
  write(root, "etc/hostname", "");
  return store.addLayerFromDir(root, true);
}

async function nodeLayer(store: ImageStore): Promise<string> {
  const node = fs.realpathSync(process.execPath);
  const npmDir = fs.realpathSync(path.join(path.dirname(node), "../lib/node_modules/npm"));
  if (!exists(path.join(npmDir, "bin/npm-cli.js"))) throw new RuntimeError(`npm not found at ${npmDir}`);
  const root = path.join(store.layout.tmp, `stack-${randomHex(6)}`);
  mkdirs(root, [["usr/bin", 0o755], ["usr/lib/node_modules", 0o755], ["usr/etc", 0o755], ["etc/ssl/certs", 0o755]]);
  fs.copyFileSync(node, path.join(root, "usr/bin/node"));
  fs.chmodSync(path.join(root, "usr/bin/node"), 0o755);
  // Shared libraries at the paths ldd names (files, not the host's symlink chains).
  const ldd = await runOk("ldd", [node]);
  for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
    const lib = m[1];
    const dest = path.join(root, lib);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(fs.realpathSync(lib), dest);
    fs.chmodSync(dest, 0o755);
  }
  await runOk("cp", ["-a", npmDir, path.join(root, "usr/lib/node_modules/npm")]);
  write(root, "usr/bin/npm", '#!/bin/sh\nexec /usr/bin/node /usr/lib/node_modules/npm/bin/npm-cli.js "$@"\n', 0o755);
  write(root, "usr/bin/npx", '#!/bin/sh\nexec /usr/bin/node /usr/lib/node_modules/npm/bin/npx-cli.js "$@"\n', 0o755);
  if (exists(CA_BUNDLE)) fs.copyFileSync(fs.realpathSync(CA_BUNDLE), path.join(root, CA_BUNDLE));
  // npm's global config (prefix /usr): trust the same bundle as the host's npm does.
  write(root, "usr/etc/npmrc", `cafile=${CA_BUNDLE}\nupdate-notifier=false\nfund=false\naudit=false\n`);
  return store.addLayerFromDir(root, true);
}

export const STACKS = ["stack/busybox:latest", "stack/node:latest"];

/** Builds the stacks that are missing; returns the names it built. Idempotent. */
export async function ensureStacks(store: ImageStore, log: (msg: string) => void = () => {}): Promise<string[]> {
  const built: string[] = [];
  let bbDigest: string | undefined = store.find("stack/busybox")?.layers[0];
  if (!bbDigest) {
    const t = Date.now();
    bbDigest = await busyboxLayer(store);
    const config: ImageConfig = { cmd: ["/bin/sh"], env: { PATH }, workdir: "/" };
    store.createImage([bbDigest], config, ["stack/busybox:latest"]);
    log(`built stack/busybox in ${Date.now() - t} ms`);
    built.push("stack/busybox:latest");
  }
  if (!store.find("stack/node")) {
    const t = Date.now();
    const nodeDigest = await nodeLayer(store);
    const config: ImageConfig = {
      cmd: ["node"],
      env: { PATH, HOME: "/home/app", NODE_EXTRA_CA_CERTS: CA_BUNDLE },
      workdir: "/app",
      user: "1000:1000",
    };
    store.createImage([bbDigest, nodeDigest], config, ["stack/node:latest"]);
    log(`built stack/node in ${Date.now() - t} ms`);
    built.push("stack/node:latest");
  }
  return built;
}
