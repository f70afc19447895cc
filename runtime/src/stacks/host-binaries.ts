/**
 * Stack layers copied from the host's own binaries:
 *   busyboxLayer  Debian's busybox-static + /etc basics: stack/busybox, a whole image in 2 MB
 *                 (the tests' quick image)
 *   nodeLayer     the host's node, npm and corepack where the official node image has them
 *                 (/usr/local), for the Debian run layer below it
 * Each has a fingerprint (path, version, size, mtime) that changes when the host's does.
 */
import fs from "node:fs";
import path from "node:path";
import type { ImageStore } from "../images.ts";
import { RuntimeError, aptInstall, exists, randomHex, run, runOk } from "../util.ts";

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

export async function busyboxSource(): Promise<string> {
  const bb = await findBusybox();
  const st = fs.statSync(bb);
  return `${bb} ${st.size} ${Math.floor(st.mtimeMs)}`;
}

export async function busyboxLayer(store: ImageStore): Promise<string> {
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

/** The host's node: its path, exact version (v20.20.2) and a fingerprint of the binary. */
export function hostNode(): { node: string; version: string; fingerprint: string } {
  const node = fs.realpathSync(process.execPath);
  const st = fs.statSync(node);
  return { node, version: process.version, fingerprint: `${node} ${process.version} ${st.size} ${Math.floor(st.mtimeMs)}` };
}

/**
 * Copies the shared libraries `ldd` names for `bins` that `below` (the layers under this one,
 * as dirs) lacks, to the same paths under `root`: a host node built against a library the
 * Debian base does not have still runs.
 */
async function copyMissingLibs(root: string, bins: string[], below: string[]) {
  const r = await runOk("ldd", bins);
  for (const m of r.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
    const lib = m[1];
    if (below.some((d) => exists(path.join(d, lib)) || exists(path.join(d, "usr", lib)))) continue;
    const dest = path.join(root, lib.startsWith("/usr/") ? lib : path.join("/usr", lib));
    if (exists(dest)) continue;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(fs.realpathSync(lib), dest);
    fs.chmodSync(dest, 0o755);
  }
}

/** node, npm, npx and corepack in /usr/local as the official image lays them out; npm's global config. */
export async function nodeLayer(store: ImageStore, below: string[]): Promise<string> {
  const { node } = hostNode();
  const modules = fs.realpathSync(path.join(path.dirname(node), "../lib/node_modules"));
  if (!exists(path.join(modules, "npm/bin/npm-cli.js"))) throw new RuntimeError(`npm not found at ${modules}/npm: the node stacks copy the host's node and npm`);
  const root = path.join(store.layout.tmp, `stack-${randomHex(6)}`);
  mkdirs(root, [["usr/local/bin", 0o755], ["usr/local/lib/node_modules", 0o755], ["usr/local/etc", 0o755]]);
  fs.copyFileSync(node, path.join(root, "usr/local/bin/node"));
  fs.chmodSync(path.join(root, "usr/local/bin/node"), 0o755);
  await copyMissingLibs(root, [node], below);
  const bins: [string, string][] = [["npm", "npm/bin/npm-cli.js"], ["npx", "npm/bin/npx-cli.js"], ["corepack", "corepack/dist/corepack.js"]];
  for (const [bin, target] of bins) {
    const pkg = target.split("/")[0];
    if (!exists(path.join(modules, target))) continue;
    if (!exists(path.join(root, "usr/local/lib/node_modules", pkg))) await runOk("cp", ["-a", path.join(modules, pkg), path.join(root, "usr/local/lib/node_modules", pkg)]);
    fs.symlinkSync(`../lib/node_modules/${target}`, path.join(root, "usr/local/bin", bin));
  }
  // npm's global config (its prefix is /usr/local): no update checks, funding or audit noise in build logs.
  write(root, "usr/local/etc/npmrc", "update-notifier=false\nfund=false\naudit=false\n");
  return store.addLayerFromDir(root, true);
}
