/**
 * Base images ("stacks"), made on this host at set-up from Debian's packages (no image hub is
 * reachable), as Heroku has heroku-22 and heroku-22-build and Docker bookworm-slim and bookworm:
 *
 *   stack/run           Debian minbase (mmdebstrap from the host's apt sources): ca-certificates,
 *                       tzdata, bash, /usr/bin/env, LANG=C.UTF-8, user app (1000), /app
 *   stack/build         stack/run + build-essential, python3, git, pkg-config
 *   stack/node          stack/run + the host's node, npm, corepack (NODE_VERSION, exact)
 *   stack/node-build    stack/node + stack/build's layer
 *   stack/python        stack/run + Debian's python3, venv, pip (PYTHON_VERSION)
 *   stack/python-build  stack/python + build-essential, python3-dev, git, pkg-config
 *   stack/busybox       busybox-static alone (2 MB: the tests' quick image)
 *   stack/debug         stack/run + curl, dig, ss, tcpdump, ps (`paas run:debug`'s image; root)
 *   stack/backup        stack/run + restic (the backup sidecar's image; root)
 *
 * A build image's layers start with its run image's, so an app built on X-build is moved onto X
 * by swapping that prefix (ImageStore.rebase). The stack/* images run as app in /app; Docker's
 * official names (debian:bookworm-slim, node:20-slim, python:3.11, ...: `officialImages`) are
 * the same layers with Docker's config (root, workdir /).
 *
 * Layers come from the host-wide cache (stacks/cache.ts), keyed by the recipe, the host's apt
 * sources and keys, and the host's node: made once per machine (minutes), hard-linked into
 * every data dir after (a second). `ensureStacks()` makes what is missing or stale.
 */
import type { ImageConfig, ImageHistoryEntry } from "@paas/shared/agent-api";
import { ImageStore, normalizeName } from "./images.ts";
import { cachedLayer } from "./stacks/cache.ts";
import { BACKUP_PACKAGES, BUILD_PACKAGES, DEBUG_PACKAGES, PYTHON_BUILD_PACKAGES, PYTHON_PACKAGES, RECIPE_VERSION, aptLayer, debianRunLayer, hostApt, hostRelease, localCaCerts, packageVersion, runLayerKey } from "./stacks/debian.ts";
import { busyboxLayer, busyboxSource, hostNode, nodeLayer } from "./stacks/host-binaries.ts";

/** Docker's default PATH. */
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const STACK_LABEL = "paas.stack";

interface Wanted {
  names: string[];
  layers: string[];
  config: ImageConfig;
  history: ImageHistoryEntry[];
}

/** Memoized: a layer is made (or taken from the cache) only when an image wanted needs it. */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

/** Makes or re-points `w` unless its names already are those layers with that config. */
function ensureImage(store: ImageStore, w: Wanted): boolean {
  const cur = store.find(w.names[0]);
  if (cur && JSON.stringify(cur.layers) === JSON.stringify(w.layers) && JSON.stringify(cur.config) === JSON.stringify(w.config)) {
    for (const n of w.names) if (!cur.names.includes(normalizeName(n))) store.tag(n, cur.id);
    return false;
  }
  store.createImage(w.layers, w.config, w.names, w.history);
  return true;
}

/**
 * Builds the stacks that are missing or stale; returns the names it (re)made. Idempotent and
 * quick when nothing changed (reads the apt sources, stats node, finds each layer in the store).
 * `only` limits it to some stacks and the official names on them (busybox is always made).
 */
export async function ensureStacks(store: ImageStore, log: (msg: string) => void = () => {}, only?: string[]): Promise<string[]> {
  const want = (name: string) => !only || only.some((o) => normalizeName(o).split(":")[0] === name);
  const made: string[] = [];
  const put = (w: Wanted) => {
    if (ensureImage(store, w)) made.push(...w.names.map(normalizeName));
  };

  const bbSource = await busyboxSource();
  const bb = store.find("stack/busybox");
  if (!bb || bb.config.labels?.[STACK_LABEL] !== `busybox ${bbSource}`) {
    const t = Date.now();
    const layer = await busyboxLayer(store);
    put({ names: ["stack/busybox:latest"], layers: [layer], config: { cmd: ["/bin/sh"], env: { PATH }, workdir: "/", labels: { [STACK_LABEL]: `busybox ${bbSource}` } }, history: [{ created_by: `stack/busybox: ${bbSource}`, comment: "busybox-static and /etc basics" }] });
    log(`built stack/busybox in ${Date.now() - t} ms`);
  }
  const wantDebian = (["stack/run", "stack/build", "debian"] as const).some(want);
  const wantDebug = want("stack/debug");
  const wantBackup = want("stack/backup");
  const wantNode = (["stack/node", "stack/node-build", "node"] as const).some(want);
  const wantPython = (["stack/python", "stack/python-build", "python"] as const).some(want);
  if (!wantDebian && !wantNode && !wantPython && !wantDebug && !wantBackup) return made;

  const release = hostRelease();
  const apt = await hostApt();
  const run = once(() => cachedLayer(store, runLayerKey(apt), () => debianRunLayer(store, apt, log)));
  const aptOn = (lowers: string[], packages: string[]) => cachedLayer(store, `apt v${RECIPE_VERSION} ${packages.join(" ")} on ${lowers.join(" ")}`, () => aptLayer(store, lowers, packages, log));
  const build = once(async () => aptOn([await run()], BUILD_PACKAGES));
  const node = hostNode();
  const nodeL = once(async () => cachedLayer(store, `node v${RECIPE_VERSION} ${node.fingerprint} on ${await run()}`, async () => nodeLayer(store, [store.layout.layer(await run())])));
  const python = once(async () => aptOn([await run()], PYTHON_PACKAGES));
  const pythonBuild = once(async () => aptOn([await run(), await python()], PYTHON_BUILD_PACKAGES));
  const debug = once(async () => aptOn([await run()], DEBUG_PACKAGES));
  const backup = once(async () => aptOn([await run()], BACKUP_PACKAGES));

  const debian = `Debian ${release.version} (${release.codename})`;
  const hRun: ImageHistoryEntry = { created_by: `stack/run: mmdebstrap --variant=minbase ${release.codename} + ca-certificates tzdata, user app`, comment: `${debian} from the host's apt sources` };
  const hBuild: ImageHistoryEntry = { created_by: `stack/build: apt-get install ${BUILD_PACKAGES.join(" ")}` };
  const hNode: ImageHistoryEntry = { created_by: `stack/node: the host's node ${node.version}, npm, corepack in /usr/local`, comment: node.fingerprint };
  const hPython: ImageHistoryEntry = { created_by: `stack/python: apt-get install ${PYTHON_PACKAGES.join(" ")}` };
  const hPythonBuild: ImageHistoryEntry = { created_by: `stack/python-build: apt-get install ${PYTHON_BUILD_PACKAGES.join(" ")}` };
  const app = { user: "1000:1000", workdir: "/app" };
  const root = { workdir: "/" };
  const tags = (repo: string, list: string[]) => list.map((t) => `${repo}:${t}`);
  const { codename, version } = release;

  if (wantDebian) {
    const l = [await run()];
    const labels = { "paas.debian.release": debian };
    put({ names: ["stack/run:latest"], layers: l, config: { cmd: ["bash"], env: { PATH, LANG: "C.UTF-8", HOME: "/home/app" }, ...app, labels: { ...labels, [STACK_LABEL]: "run" } }, history: [hRun] });
    put({ names: ["stack/build:latest"], layers: [...l, await build()], config: { cmd: ["bash"], env: { PATH, LANG: "C.UTF-8", HOME: "/home/app" }, ...app, labels: { ...labels, [STACK_LABEL]: "build" } }, history: [hRun, hBuild] });
    put({ names: tags("debian", [`${codename}-slim`, `${version}-slim`]), layers: l, config: { cmd: ["bash"], env: { PATH }, ...root, labels }, history: [hRun] });
    put({ names: tags("debian", [codename, version, "latest"]), layers: [...l, await build()], config: { cmd: ["bash"], env: { PATH }, ...root, labels }, history: [hRun, hBuild] });
  }
  if (wantNode) {
    const l = [await run(), await nodeL()];
    const lb = [...l, await build()];
    const v = node.version.slice(1); // as the official image's NODE_VERSION: 20.20.2
    const major = v.split(".")[0];
    const labels = { "paas.node.version": node.version, "paas.debian.release": debian };
    // Node trusts its own copy of Mozilla's CAs, not the system's: the host's private CAs (a
    // registry mirror's, a proxy's), carried into the run layer's bundle, are added for it.
    const cas: Record<string, string> = localCaCerts().length ? { NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt" } : {};
    const env = { PATH, NODE_VERSION: v, LANG: "C.UTF-8", HOME: "/home/app", ...cas };
    put({ names: ["stack/node:latest"], layers: l, config: { cmd: ["node"], env, ...app, labels: { ...labels, [STACK_LABEL]: "node" } }, history: [hRun, hNode] });
    put({ names: ["stack/node-build:latest"], layers: lb, config: { cmd: ["node"], env, ...app, labels: { ...labels, [STACK_LABEL]: "node-build" } }, history: [hRun, hNode, hBuild] });
    const docker: ImageConfig = { cmd: ["node"], env: { PATH, NODE_VERSION: v, ...cas }, ...root, labels };
    put({ names: tags("node", [`${major}-slim`, `${major}-${codename}-slim`, "slim", `${codename}-slim`]), layers: l, config: docker, history: [hRun, hNode] });
    put({ names: tags("node", [major, `${major}-${codename}`, codename, "latest"]), layers: lb, config: docker, history: [hRun, hNode, hBuild] });
  }
  if (wantPython) {
    const l = [await run(), await python()];
    const lb = [...l, await pythonBuild()];
    const v = packageVersion(store.layout.layer(l[1]), "python3") ?? "3";
    const minor = v.split(".").slice(0, 2).join(".");
    const labels = { "paas.python.version": v, "paas.debian.release": debian };
    const env = { PATH, PYTHON_VERSION: v, LANG: "C.UTF-8", PYTHONUNBUFFERED: "1", HOME: "/home/app" };
    put({ names: ["stack/python:latest"], layers: l, config: { cmd: ["python3"], env, ...app, labels: { ...labels, [STACK_LABEL]: "python" } }, history: [hRun, hPython] });
    put({ names: ["stack/python-build:latest"], layers: lb, config: { cmd: ["python3"], env, ...app, labels: { ...labels, [STACK_LABEL]: "python-build" } }, history: [hRun, hPython, hPythonBuild] });
    // The official image's pip installs as root into the system; Debian marks its python3
    // externally managed (PEP 668), so `RUN pip install` needs this to do the same.
    const docker: ImageConfig = { cmd: ["python3"], env: { PATH, LANG: "C.UTF-8", PYTHON_VERSION: v, PIP_BREAK_SYSTEM_PACKAGES: "1" }, ...root, labels };
    put({ names: tags("python", [`${minor}-slim`, `${minor}-slim-${codename}`, "slim", `3-slim`]), layers: l, config: docker, history: [hRun, hPython] });
    put({ names: tags("python", [minor, `${minor}-${codename}`, "3", "latest"]), layers: lb, config: docker, history: [hRun, hPython, hPythonBuild] });
  }
  if (wantDebug) {
    const hDebug: ImageHistoryEntry = { created_by: `stack/debug: apt-get install ${DEBUG_PACKAGES.join(" ")}` };
    put({
      names: ["stack/debug:latest"],
      layers: [await run(), await debug()],
      config: { cmd: ["bash"], env: { PATH, LANG: "C.UTF-8", HOME: "/root" }, ...root, labels: { "paas.debian.release": debian, [STACK_LABEL]: "debug" } },
      history: [hRun, hDebug],
    });
  }
  if (wantBackup) {
    const hBackup: ImageHistoryEntry = { created_by: `stack/backup: apt-get install ${BACKUP_PACKAGES.join(" ")}` };
    put({
      names: ["stack/backup:latest"],
      layers: [await run(), await backup()],
      config: { cmd: ["restic", "version"], env: { PATH, LANG: "C.UTF-8", HOME: "/root" }, ...root, labels: { "paas.debian.release": debian, [STACK_LABEL]: "backup" } },
      history: [hRun, hBackup],
    });
  }
  return made;
}
