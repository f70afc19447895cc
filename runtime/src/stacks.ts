/**
 * Base images ("stacks") made from the host, offline:
 *   stack/busybox  busybox (Debian's busybox-static) + /etc basics; runs as root
 *   stack/node     the busybox layer + a layer with the host's node, its shared libraries,
 *                  npm, the CA bundle; runs as `app` (uid 1000) in /app
 *   stack/python   the busybox layer + Debian's python3 (+ python3-venv: ensurepip's wheels
 *                  in /usr/share/python-wheels), its stdlib and shared libraries; runs as
 *                  `app` in /app. `python3 -m venv` works offline.
 * Each image carries the label `paas.stack.source` (the source binary's path, version, size
 * and mtime): `ensureStacks()` builds what is missing and rebuilds a stack whose source
 * changed (node upgraded, python3 updated by apt).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ImageConfig } from "@paas/shared/agent-api";
import { ImageStore, normalizeName } from "./images.ts";
import { RuntimeError, aptInstall, exists, randomHex, run, runOk } from "./util.ts";

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
  await aptInstall(["busybox-static"], "busybox-static is needed for the stacks");
  if (!exists("/bin/busybox")) throw new RuntimeError("busybox-static was installed but /bin/busybox is missing; run: apt-get install --reinstall busybox-static");
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

/** Copies the shared libraries `ldd` names for `bins` to the same paths under `root` (files, not symlink chains). */
async function copySharedLibs(root: string, bins: string[]) {
  const libs = new Set<string>();
  // ldd is slow (~20 ms a file): a few in parallel.
  const chunks: string[][] = [];
  for (let i = 0; i < bins.length; i += 8) chunks.push(bins.slice(i, i + 8));
  const outs = await Promise.all(chunks.map((c) => run("ldd", c)));
  for (const r of outs) for (const m of r.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) libs.add(m[1]);
  for (const lib of libs) {
    const dest = path.join(root, lib);
    if (exists(dest)) continue;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(fs.realpathSync(lib), dest);
    fs.chmodSync(dest, 0o755);
  }
}

function nodeSource(): { node: string; fingerprint: string } {
  const node = fs.realpathSync(process.execPath);
  const st = fs.statSync(node);
  return { node, fingerprint: `${node} ${process.version} ${st.size} ${Math.floor(st.mtimeMs)}` };
}

async function nodeLayer(store: ImageStore): Promise<string> {
  const { node } = nodeSource();
  const npmDir = fs.realpathSync(path.join(path.dirname(node), "../lib/node_modules/npm"));
  if (!exists(path.join(npmDir, "bin/npm-cli.js"))) throw new RuntimeError(`npm not found at ${npmDir}`);
  const root = path.join(store.layout.tmp, `stack-${randomHex(6)}`);
  mkdirs(root, [["usr/bin", 0o755], ["usr/lib/node_modules", 0o755], ["usr/etc", 0o755], ["etc/ssl/certs", 0o755]]);
  fs.copyFileSync(node, path.join(root, "usr/bin/node"));
  fs.chmodSync(path.join(root, "usr/bin/node"), 0o755);
  await copySharedLibs(root, [node]);
  await runOk("cp", ["-a", npmDir, path.join(root, "usr/lib/node_modules/npm")]);
  write(root, "usr/bin/npm", '#!/bin/sh\nexec /usr/bin/node /usr/lib/node_modules/npm/bin/npm-cli.js "$@"\n', 0o755);
  write(root, "usr/bin/npx", '#!/bin/sh\nexec /usr/bin/node /usr/lib/node_modules/npm/bin/npx-cli.js "$@"\n', 0o755);
  if (exists(CA_BUNDLE)) fs.copyFileSync(fs.realpathSync(CA_BUNDLE), path.join(root, CA_BUNDLE));
  // npm's global config (prefix /usr): trust the same bundle as the host's npm does.
  write(root, "usr/etc/npmrc", `cafile=${CA_BUNDLE}\nupdate-notifier=false\nfund=false\naudit=false\n`);
  return store.addLayerFromDir(root, true);
}

/**
 * Debian's python3 (not a pyenv build that may shadow it on PATH): apt-installed by
 * infra/setup, so a fresh machine makes the same stack.
 */
async function pythonSource(): Promise<{ bin: string; version: string; fingerprint: string }> {
  const link = "/usr/bin/python3";
  const wheels = "/usr/share/python-wheels";
  if (!exists(link) || !exists(wheels)) {
    await aptInstall(["python3", "python3-venv"], "Debian's python3 and python3-venv are needed for stack/python");
    if (!exists(link)) throw new RuntimeError(`python3 was installed but ${link} is missing; run: apt-get install --reinstall python3`);
  }
  const bin = fs.realpathSync(link);
  const version = (await runOk(bin, ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])).trim();
  const st = fs.statSync(bin);
  return { bin, version, fingerprint: `${bin} ${version} ${st.size} ${Math.floor(st.mtimeMs)}` };
}

async function pythonLayer(store: ImageStore): Promise<string> {
  const { bin, version } = await pythonSource();
  const minor = version.split(".").slice(0, 2).join("."); // 3.11
  const stdlib = `/usr/lib/python${minor}`;
  const root = path.join(store.layout.tmp, `stack-${randomHex(6)}`);
  mkdirs(root, [["usr/bin", 0o755], ["usr/lib", 0o755], ["usr/share", 0o755], ["etc/ssl/certs", 0o755]]);
  // The stdlib without the static libpython and Makefile (config-*: only for building C extensions).
  await runOk("sh", ["-c", `tar -C / -cf - --exclude='usr/lib/python${minor}/config-*' usr/lib/python${minor} usr/share/python-wheels $(test -d /etc/python${minor} && echo etc/python${minor}) | tar -C "$1" -xf -`, "sh", root]);
  fs.copyFileSync(bin, path.join(root, `usr/bin/python${minor}`));
  fs.chmodSync(path.join(root, `usr/bin/python${minor}`), 0o755);
  fs.symlinkSync(`python${minor}`, path.join(root, "usr/bin/python3"));
  fs.symlinkSync("python3", path.join(root, "usr/bin/python"));
  // pip for the image itself: `python3 -m pip` from ensurepip's bundled wheel.
  write(root, "usr/bin/pip3", `#!/bin/sh\nexec /usr/bin/python3 -m pip "$@"\n`, 0o755);
  const dynload = path.join(stdlib, "lib-dynload");
  const exts = fs.readdirSync(dynload).filter((f) => f.endsWith(".so")).map((f) => path.join(dynload, f));
  await copySharedLibs(root, [bin, ...exts]);
  if (exists(CA_BUNDLE)) fs.copyFileSync(fs.realpathSync(CA_BUNDLE), path.join(root, CA_BUNDLE));
  // OpenSSL's default CA paths (Debian: /usr/lib/ssl -> /etc/ssl).
  fs.mkdirSync(path.join(root, "usr/lib/ssl"), { recursive: true });
  fs.symlinkSync(CA_BUNDLE, path.join(root, "usr/lib/ssl/cert.pem"));
  fs.symlinkSync("/etc/ssl/certs", path.join(root, "usr/lib/ssl/certs"));
  return store.addLayerFromDir(root, true);
}

/**
 * A host-wide cache of stack layers, keyed by their source's fingerprint: every data dir
 * (the agent's, each test's) gets the layer as hard links (cp -al) instead of copying and
 * hashing 100 MB again. Layers are read-only lower dirs, so sharing inodes is safe.
 */
function stackCacheRoot(): string {
  return process.env.PAAS_STACK_CACHE || "/var/cache/paas-runtime/stacks";
}

async function cachedLayer(store: ImageStore, key: string, build: () => Promise<string>): Promise<string> {
  const dir = path.join(stackCacheRoot(), createHash("sha256").update(key).digest("hex").slice(0, 24));
  const meta = path.join(dir, "layer.json");
  const cached = exists(meta) ? (JSON.parse(fs.readFileSync(meta, "utf8")) as { digest: string; size: number }) : undefined;
  if (cached && exists(path.join(dir, "layer"))) {
    if (store.hasLayer(cached.digest)) return cached.digest;
    const tmp = path.join(store.layout.tmp, `stack-${randomHex(6)}`);
    const r = await run("cp", ["-al", path.join(dir, "layer"), tmp]);
    if (r.code === 0) {
      store.adoptLayer(tmp, cached.digest, cached.size);
      return cached.digest;
    }
    fs.rmSync(tmp, { recursive: true, force: true }); // another filesystem: build it here
  }
  const digest = await build();
  try {
    const tmp = `${dir}.tmp-${randomHex(4)}`;
    fs.mkdirSync(tmp, { recursive: true });
    await runOk("cp", ["-al", store.layout.layer(digest), path.join(tmp, "layer")]);
    fs.writeFileSync(path.join(tmp, "layer.json"), JSON.stringify({ digest, size: store.layerSize(digest), key }));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch {
    // no cache (read-only /var, another filesystem): every data dir builds its own
  }
  return digest;
}

export const STACKS = ["stack/busybox:latest", "stack/node:latest", "stack/python:latest"];
const SOURCE_LABEL = "paas.stack.source";

async function busyboxSource(): Promise<string> {
  const bb = await findBusybox();
  const st = fs.statSync(bb);
  return `${bb} ${st.size} ${Math.floor(st.mtimeMs)}`;
}

/**
 * Builds the stacks that are missing or whose source binary changed; returns the names it
 * built. Idempotent: when nothing changed it only stats the sources (and runs python3 once
 * for its version). `only` limits it to some stacks (busybox is built when another needs it).
 */
export async function ensureStacks(store: ImageStore, log: (msg: string) => void = () => {}, only?: string[]): Promise<string[]> {
  const want = (s: string) => !only || only.some((o) => normalizeName(o) === normalizeName(s));
  const built: string[] = [];
  const current = (name: string, fingerprint: string) => {
    const img = store.find(name);
    return img && img.config.labels?.[SOURCE_LABEL] === fingerprint ? img : undefined;
  };
  const bbSource = await busyboxSource();
  let bbDigest = current("stack/busybox", bbSource)?.layers[0];
  if (!bbDigest) {
    const t = Date.now();
    bbDigest = await busyboxLayer(store);
    const config: ImageConfig = { cmd: ["/bin/sh"], env: { PATH }, workdir: "/", labels: { [SOURCE_LABEL]: bbSource } };
    store.createImage([bbDigest], config, ["stack/busybox:latest"], [{ created_by: `stack/busybox: ${bbSource}`, comment: "busybox-static and /etc basics" }]);
    log(`built stack/busybox in ${Date.now() - t} ms`);
    built.push("stack/busybox:latest");
  }
  const node = nodeSource();
  if (want("stack/node") && (!current("stack/node", node.fingerprint) || store.find("stack/node")!.layers[0] !== bbDigest)) {
    const t = Date.now();
    const nodeDigest = await cachedLayer(store, `node ${node.fingerprint}`, () => nodeLayer(store));
    const config: ImageConfig = {
      cmd: ["node"],
      env: { PATH, HOME: "/home/app", NODE_EXTRA_CA_CERTS: CA_BUNDLE },
      workdir: "/app",
      user: "1000:1000",
      labels: { [SOURCE_LABEL]: node.fingerprint },
    };
    store.createImage([bbDigest, nodeDigest], config, ["stack/node:latest"], [
      { created_by: `stack/busybox: ${bbSource}` },
      { created_by: `stack/node: ${node.fingerprint}`, comment: "node, its shared libraries, npm, CA bundle" },
    ]);
    log(`built stack/node in ${Date.now() - t} ms`);
    built.push("stack/node:latest");
  }
  if (want("stack/python")) {
    const py = await pythonSource();
    if (!current("stack/python", py.fingerprint) || store.find("stack/python")!.layers[0] !== bbDigest) {
      const t = Date.now();
      const pyDigest = await cachedLayer(store, `python ${py.fingerprint}`, () => pythonLayer(store));
      const config: ImageConfig = {
        cmd: ["python3"],
        env: { PATH, HOME: "/home/app", LANG: "C.UTF-8", PYTHONUNBUFFERED: "1", SSL_CERT_FILE: CA_BUNDLE },
        workdir: "/app",
        user: "1000:1000",
        labels: { [SOURCE_LABEL]: py.fingerprint },
      };
      store.createImage([bbDigest, pyDigest], config, ["stack/python:latest"], [
        { created_by: `stack/busybox: ${bbSource}` },
        { created_by: `stack/python: ${py.fingerprint}`, comment: "Debian's python3, stdlib, venv wheels, shared libraries" },
      ]);
      log(`built stack/python in ${Date.now() - t} ms`);
      built.push("stack/python:latest");
    }
  }
  return built;
}
