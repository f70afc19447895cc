/**
 * The Debian layers of the stacks, made here from the host's apt sources (no image hub is
 * reachable): what Docker's debian:bookworm-slim and Heroku's heroku-22 are.
 *
 *   debianRunLayer(store)          mmdebstrap --variant=minbase + ca-certificates, tzdata (bash,
 *                                  coreutils' /usr/bin/env: Essential), no docs/man/locales, the
 *                                  host's apt sources and keyrings, user `app` (1000:1000), /app
 *   aptLayer(store, lowers, pkgs)  `apt-get install pkgs` in a chroot on an overlay of `lowers`:
 *                                  the overlay's upper dir is the layer (as a container's commit)
 *
 * The apt layers run apt in a chroot of their own mount and pid namespaces with the host's
 * network, as mmdebstrap itself does: they are made at set-up, before any bridge exists, from
 * Debian's packages only (no user code runs there).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ImageStore } from "../images.ts";
import { RuntimeError, aptInstall, exists, randomHex, run, runOk } from "../util.ts";

/** Bump when what the recipes make changes in a way their text does not show. */
export const RECIPE_VERSION = 1;

/** Docker's slim images leave these out (debuerreotype's --slimify): no man, docs, translations. */
const SLIM_DPKG = [
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/groff/*",
  "path-exclude=/usr/share/lintian/*",
  "path-exclude=/usr/share/linda/*",
  "path-exclude=/usr/share/locale/*",
];

/**
 * apt in the image as in Docker's: no .debs kept after an install, no translations, gzipped
 * indexes; so a Dockerfile's `RUN apt-get update && apt-get install ...` makes a small layer.
 */
const IMAGE_APT_CONF = `// made by the paas stacks, as Docker's debian images have it
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
APT::AutoRemove::SuggestsImportant "false";
`;

export const RUN_PACKAGES = ["ca-certificates", "tzdata"];
/** heroku-22-build's and debian:bookworm's point: native addons and C extensions build. */
export const BUILD_PACKAGES = ["build-essential", "python3", "git", "pkg-config"];
/** Debian's python3 with venv (the buildpack's virtualenv) and pip (`pip install` in a Dockerfile). */
export const PYTHON_PACKAGES = ["python3", "python3-venv", "python3-pip", "python-is-python3"];
export const PYTHON_BUILD_PACKAGES = ["build-essential", "python3-dev", "git", "pkg-config"];
/** `paas run:debug`'s network tools: curl, dig, ss (and ip), tcpdump, ps. */
export const DEBUG_PACKAGES = ["curl", "bind9-dnsutils", "iproute2", "tcpdump", "procps"];
/** The backup sidecar's engine (restic: deduplicated, encrypted, checksummed snapshots). */
export const BACKUP_PACKAGES = ["restic"];

/** The release the host runs (its /etc/os-release): the base is of the same. */
export function hostRelease(): { codename: string; version: string } {
  const text = fs.readFileSync("/etc/os-release", "utf8");
  const get = (k: string) => text.match(new RegExp(`^${k}="?([^"\\n]*)"?$`, "m"))?.[1];
  const codename = get("VERSION_CODENAME");
  const version = get("VERSION_ID");
  if (get("ID") !== "debian" || !codename || !version) {
    throw new RuntimeError("the Debian stacks are made with mmdebstrap from the host's apt sources: this host is not Debian (/etc/os-release)");
  }
  return { codename, version };
}

/** What of the host's apt configuration the image carries to reach the archive: never credentials. */
export interface HostApt {
  /** sources.list and sources.list.d files (one-line or deb822), as they are. */
  sources: string[];
  /** Keyring files the sources name (Signed-By) and the trusted.gpg.d/keyrings dirs' files. */
  keyrings: string[];
  /** apt options: archive validity checks, proxies (without user:password), retries. */
  options: string[];
}

const CARRIED_OPTIONS = /^Acquire::(Check-Valid-Until|Check-Date|Retries|https?::Proxy|ftp::Proxy)$/i;

export async function hostApt(): Promise<HostApt> {
  const sources: string[] = [];
  if (exists("/etc/apt/sources.list") && /^\s*deb\s/m.test(fs.readFileSync("/etc/apt/sources.list", "utf8"))) sources.push("/etc/apt/sources.list");
  const dir = "/etc/apt/sources.list.d";
  if (exists(dir)) for (const f of fs.readdirSync(dir).sort()) if (/\.(list|sources)$/.test(f)) sources.push(path.join(dir, f));
  if (!sources.length) throw new RuntimeError("no apt sources on this host (/etc/apt/sources.list{,.d}): the Debian stacks are made from them; configure apt first");
  const keyrings = new Set<string>();
  for (const s of sources) for (const m of fs.readFileSync(s, "utf8").matchAll(/signed-by[=:]\s*(\/[^\s\]]+)/gi)) if (exists(m[1])) keyrings.add(m[1]);
  for (const d of ["/etc/apt/trusted.gpg.d", "/etc/apt/keyrings"]) if (exists(d)) for (const f of fs.readdirSync(d)) keyrings.add(path.join(d, f));
  const options: string[] = [];
  for (const line of (await runOk("apt-config", ["dump"])).split("\n")) {
    const m = line.match(/^(\S+) "(.*)";$/);
    if (!m || !CARRIED_OPTIONS.test(m[1])) continue;
    // a proxy with user:password@ is a credential: it stays on the host
    if (/:\/\/[^/]*@/.test(m[2])) continue;
    options.push(`${m[1]} "${m[2]}"`);
  }
  return { sources, keyrings: [...keyrings].sort(), options };
}

/** What the run layer is made from: the recipe, and the content of the host's apt config it carries. */
export function runLayerKey(apt: HostApt): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ RECIPE_VERSION, RUN_PACKAGES, SLIM_DPKG, IMAGE_APT_CONF, release: hostRelease(), options: apt.options }));
  for (const f of [...apt.sources, ...apt.keyrings]) h.update(`${f}\0`).update(fs.readFileSync(f)).update("\0");
  for (const f of localCaCerts()) h.update(`${f}\0`).update(fs.readFileSync(f));
  return `debian-run ${h.digest("hex")}`;
}

/** The host's own CAs (Debian's place for them): a mirror or proxy with a private CA stays reachable. */
export function localCaCerts(): string[] {
  const dir = "/usr/local/share/ca-certificates";
  if (!exists(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".crt")).map((f) => path.join(dir, f)).sort();
}

async function ensureMmdebstrap() {
  if ((await run("sh", ["-c", "command -v mmdebstrap"])).code !== 0) {
    await aptInstall(["mmdebstrap"], "mmdebstrap makes the Debian stacks");
  }
}

/** The run layer: a minbase Debian from the host's sources, slim, with user app and /app. */
export async function debianRunLayer(store: ImageStore, apt: HostApt, log: (msg: string) => void): Promise<string> {
  await ensureMmdebstrap();
  const { codename } = hostRelease();
  const root = path.join(store.layout.tmp, `debian-${randomHex(6)}`);
  const t = Date.now();
  log(`making the Debian ${codename} base with mmdebstrap (a few minutes, once per machine)`);
  const r = await run("mmdebstrap", [
    "--quiet",
    "--variant=minbase",
    `--include=${RUN_PACKAGES.join(",")}`,
    // merged /usr made by mmdebstrap, not by the usrmerge package (which drags perl in: 50 MB)
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    ...apt.options.map((o) => `--aptopt=${o}`),
    ...SLIM_DPKG.map((o) => `--dpkgopt=${o}`),
    codename,
    root,
    ...apt.sources,
  ]);
  if (r.code !== 0) {
    fs.rmSync(root, { recursive: true, force: true });
    throw new RuntimeError(`mmdebstrap failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-8).join("\n")}\ncheck that apt-get update works on this host`);
  }
  try {
    // The keyrings the sources name, where they name them (Debian's own come with debian-archive-keyring).
    for (const k of apt.keyrings) {
      const dest = path.join(root, k);
      if (exists(dest)) continue;
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(k, dest);
    }
    fs.writeFileSync(path.join(root, "etc/apt/apt.conf.d/docker-like"), IMAGE_APT_CONF);
    const cas = localCaCerts();
    if (cas.length) {
      for (const c of cas) {
        const dest = path.join(root, c);
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.copyFileSync(c, dest);
      }
      await runOk("chroot", [root, "update-ca-certificates"]);
    }
    await runOk("chroot", [root, "groupadd", "--gid", "1000", "app"]);
    await runOk("chroot", [root, "useradd", "--uid", "1000", "--gid", "1000", "--create-home", "--home-dir", "/home/app", "--shell", "/bin/bash", "app"]);
    fs.mkdirSync(path.join(root, "app"), { mode: 0o755 });
    fs.chownSync(path.join(root, "app"), 1000, 1000);
    // The runtime gives each container its own /dev, resolv.conf, hosts and hostname (bound over these).
    for (const e of fs.readdirSync(path.join(root, "dev"))) fs.rmSync(path.join(root, "dev", e), { recursive: true, force: true });
    fs.writeFileSync(path.join(root, "etc/resolv.conf"), "");
    // mmdebstrap's leftovers of its own run
    for (const f of ["var/log/apt/eipp.log.xz", "var/log/apt/history.log", "var/log/apt/term.log", "var/log/dpkg.log", "var/log/alternatives.log", "var/cache/ldconfig/aux-cache"]) fs.rmSync(path.join(root, f), { force: true });
    const digest = await store.addLayerFromDir(root, true);
    log(`made the Debian ${codename} run layer in ${Math.round((Date.now() - t) / 1000)} s`);
    return digest;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * `apt-get install packages` over `lowers` (bottom first): the changes are the layer. In a
 * mount and pid namespace of its own, so nothing stays mounted whatever happens.
 */
export async function aptLayer(store: ImageStore, lowers: string[], packages: string[], log: (msg: string) => void): Promise<string> {
  const base = path.join(store.layout.tmp, `apt-${randomHex(6)}`);
  const [upper, work, merged] = ["upper", "work", "merged"].map((d) => path.join(base, d));
  for (const d of [upper, work, merged]) fs.mkdirSync(d, { recursive: true });
  const lowerdir = lowers.map((l) => store.layout.layer(l)).reverse().join(":");
  const t = Date.now();
  log(`installing ${packages.join(" ")} with apt (once per machine)`);
  const inside = [
    "set -e",
    "apt-get update -qq",
    `apt-get install -y -qq --no-install-recommends ${packages.join(" ")}`,
    "apt-get clean",
    "rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/cache/ldconfig/aux-cache",
  ].join("\n");
  const script = `set -e
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4"
mount -t proc proc "$4/proc"
mount --rbind /dev "$4/dev"
mount --bind /etc/resolv.conf "$4/etc/resolv.conf"
mount -t tmpfs tmpfs "$4/tmp"
exec chroot "$4" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive HOME=/root sh -c "$5"`;
  try {
    const r = await run("unshare", ["--mount", "--pid", "--fork", "sh", "-c", script, "sh", lowerdir, upper, work, merged, inside]);
    if (r.code !== 0) {
      throw new RuntimeError(`apt-get install ${packages.join(" ")} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-8).join("\n")}\ncheck that apt-get update works on this host`);
    }
    const digest = await store.addLayerFromDir(upper, true);
    log(`installed ${packages.join(" ")} in ${Math.round((Date.now() - t) / 1000)} s`);
    return digest;
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}

/** The version dpkg records for `pkg` in a layer's /var/lib/dpkg/status (the upstream part: 3.11.2-6 -> 3.11.2). */
export function packageVersion(layerDir: string, pkg: string): string | undefined {
  const status = path.join(layerDir, "var/lib/dpkg/status");
  if (!exists(status)) return undefined;
  for (const para of fs.readFileSync(status, "utf8").split("\n\n")) {
    if (!new RegExp(`^Package: ${pkg.replace(/[.+]/g, "\\$&")}$`, "m").test(para)) continue;
    const v = para.match(/^Version: (?:\d+:)?([^\s-+~]+)/m)?.[1];
    if (v) return v;
  }
  return undefined;
}
