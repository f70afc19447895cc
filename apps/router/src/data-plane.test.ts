import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { plan, poolFor } from "./data-plane.ts";
import { renderConfig, renderMap, SERVER_OPTIONS, type Backend } from "./haproxy-config.ts";
import { perApp, noHealthyReplica } from "./pages.ts";
import { certSteps, certsToLoad, dropCertFiles, ensureDefaultCert, renderCrtList, type LoadedCert } from "./tls.ts";
import { domainCertFile, sha256 } from "@paas/shared/tls";
import { selfSigned } from "../../../tests/helpers/certs.ts";

const MAP = "/d/hosts.map";
const web = (backends: string[]) => ({ app: "web", hosts: ["web.localhost"], backends });
/** A pool with `web` in pool.0 (replicas `addrs`) and spares (no servers) after it. */
const pool = (...addrs: (string | null)[]): Backend[] =>
  Array.from({ length: poolFor(0) }, (_, i) => (i === 0 ? { name: "pool.0", app: "web", hosts: ["web.localhost"], slots: addrs } : { name: `pool.${i}`, app: null, hosts: [], slots: [] }));
/** A slot's two servers: the checked one, and its unchecked twin for when every replica is out. */
const added = (server: string, addr: string) => {
  const twin = server.replace("/r", "/p");
  return [`add server ${server} ${addr} ${SERVER_OPTIONS}`, `enable health ${server}`, `enable server ${server}`, `add server ${twin} ${addr} backup`, `enable server ${twin}`];
};

test("the first table starts a pool: each app in a backend, its replicas in the first slots, spares after", () => {
  const p = plan([], [web(["10.0.0.2:5000"])], MAP);
  assert.equal(p.reload, true);
  assert.deepEqual(p.next, pool("10.0.0.2:5000"));
  assert.equal(renderMap(p.next), "web.localhost pool.0/web\n");
});

test("a deploy adds a server, then puts the old one in maintenance for deletion, through the runtime API", () => {
  const p = plan(pool("10.0.0.2:5000"), [web(["10.0.0.3:5000"])], MAP);
  assert.equal(p.reload, false);
  assert.deepEqual(p.reload === false && p.commands, [...added("pool.0/r2", "10.0.0.3:5000"), "set server pool.0/r1 state maint", "set server pool.0/p1 state maint"]);
  assert.deepEqual(p.reload === false && p.deletes, ["pool.0/r1", "pool.0/p1"]);
  assert.deepEqual(p.next[0].slots, [null, "10.0.0.3:5000"]);
  // r1 is not filled again while its server waits for deletion; once deleted, it is.
  const again = plan(p.next, [web(["10.0.0.3:5000", "10.0.0.4:5000"])], MAP, new Set(["pool.0/r1"]));
  assert.deepEqual(again.reload === false && again.commands, added("pool.0/r3", "10.0.0.4:5000"));
  const after = plan(p.next, [web(["10.0.0.3:5000", "10.0.0.4:5000"])], MAP);
  assert.deepEqual(after.reload === false && after.commands, added("pool.0/r1", "10.0.0.4:5000"));
});

test("a scale-up past any number of replicas adds servers without a reload; the config holds only replicas", () => {
  const many = Array.from({ length: 20 }, (_, i) => `10.0.1.${i}:5000`);
  const p = plan(pool("10.0.0.2:5000"), [web(["10.0.0.2:5000", ...many])], MAP);
  assert.equal(p.reload, false);
  assert.equal(p.next[0].slots.length, 21);
  const cfg = renderConfig({ dir: "/d", port: 1, httpsPort: 2, defaultCert: "/c", tlsDir: "/t", ipv6: false, maxBodyBytes: 1, responseTimeoutS: 1 }, pool(null, "10.0.0.3:5000"));
  assert.deepEqual(cfg.match(/^ {2}server .*/gm), [`  server r2 10.0.0.3:5000 ${SERVER_OPTIONS}`, "  server p2 10.0.0.3:5000 backup"]);
});

test("a new app takes a spare backend: its replicas ready first, then its host in the map; an app that goes leaves the map first", () => {
  const p = plan(pool("10.0.0.2:5000"), [web(["10.0.0.2:5000"]), { app: "api", hosts: ["api.localhost"], backends: ["10.0.0.9:5000"] }], MAP);
  assert.deepEqual(p.reload === false && p.commands, [...added("pool.1/r1", "10.0.0.9:5000"), "add map /d/hosts.map api.localhost pool.1/api"]);
  const gone = plan(p.next, [{ app: "api", hosts: ["api.localhost"], backends: ["10.0.0.9:5000"] }], MAP);
  assert.deepEqual(gone.reload === false && gone.commands, ["del map /d/hosts.map web.localhost", "set server pool.0/r1 state maint", "set server pool.0/p1 state maint"]);
  assert.equal(gone.next[0].app, null);
});

test("the same table plans nothing; a changed host is a map change", () => {
  const cur = pool("10.0.0.2:5000");
  assert.deepEqual(plan(cur, [web(["10.0.0.2:5000"])], MAP), { reload: false, next: cur, commands: [], deletes: [] });
  const p = plan(cur, [{ ...web(["10.0.0.2:5000"]), hosts: ["main.web.localhost", "web.localhost"] }], MAP);
  assert.deepEqual(p.reload === false && p.commands, ["add map /d/hosts.map main.web.localhost pool.0/web"]);
});

test("a replica named by host name, or no spare backend, reloads", () => {
  const cur = pool("10.0.0.2:5000");
  assert.equal(plan(cur, [web(["10.0.0.2:5000", "host-b:5000"])], MAP).reload, true);
  const apps = Array.from({ length: poolFor(0) }, (_, i) => ({ app: `a${i}`, hosts: [`a${i}.localhost`], backends: [] }));
  assert.equal(plan(cur, [web(["10.0.0.2:5000"]), ...apps], MAP).reload, true);
});

test("an error page names the app HAProxy fills in, with every other % doubled", () => {
  const page = perApp(noHealthyReplica);
  assert.match(page, /The app <code>%\[var\(txn\.app\)\]<\/code> has no replica/);
  assert.doesNotMatch(page.replaceAll("%%", "").replaceAll("%[var(txn.app)]", ""), /%/);
});

test("HAProxy accepts the rendered configuration (Debian's haproxy; ./infra/setup installs it)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-router-cfg-"));
  try {
    const tlsDir = path.join(dir, "tls");
    const defaultCert = await ensureDefaultCert(tlsDir, "localhost");
    const www = selfSigned(["www.example.com"]);
    const { next: certs } = await certsToLoad(tlsDir, new Map([["www.example.com", sha256(www.cert + www.key)]]), new Map(), async () => www.cert + www.key);
    fs.writeFileSync(path.join(dir, "crt-list"), renderCrtList(certs));
    const backends = pool("10.0.0.2:5000");
    backends[0].hosts = ["web.localhost", "main.web.localhost"];
    fs.mkdirSync(path.join(dir, "pages"));
    for (const p of ["404.html", "413.html", "502.html", "503.html", "504.html"]) fs.writeFileSync(path.join(dir, "pages", p), "x %[var(txn.app)]");
    fs.writeFileSync(path.join(dir, "hosts.map"), renderMap(backends));
    fs.writeFileSync(path.join(dir, "haproxy.cfg"), renderConfig({ dir, port: 18080, httpsPort: 18443, defaultCert, tlsDir, ipv6: true, maxBodyBytes: 1024, responseTimeoutS: 60 }, backends));
    const r = spawnSync("haproxy", ["-c", "-f", path.join(dir, "haproxy.cfg")], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(dir, "hosts.map"), "utf8"), "web.localhost pool.0/web\nmain.web.localhost pool.0/web\n");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the default certificate covers *.<domain> and <domain>; it is kept while it fits and made again when the domain changes", async () => {
  const { X509Certificate } = await import("node:crypto");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-router-tls-"));
  try {
    const file = await ensureDefaultCert(dir, "apps.example.com");
    const cert = new X509Certificate(fs.readFileSync(file, "utf8"));
    assert.equal(cert.subjectAltName, "DNS:*.apps.example.com, DNS:apps.example.com");
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const again = fs.readFileSync(await ensureDefaultCert(dir, "apps.example.com"), "utf8");
    assert.equal(new X509Certificate(again).fingerprint256, cert.fingerprint256, "kept");
    const moved = new X509Certificate(fs.readFileSync(await ensureDefaultCert(dir, "localhost"), "utf8"));
    assert.equal(moved.subjectAltName, "DNS:*.localhost, DNS:localhost");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("certificates: a new one is fetched, checked, copied (mode 600), loaded then listed, a renewed one replaced, a gone one unlisted then deleted; one the store lacks or holds otherwise waits", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-router-tls-"));
  try {
    const [a, b] = [selfSigned(["a.example.com"]), selfSigned(["a.example.com"])];
    // The store (Redis): sha256 -> PEM; fetches counted.
    const store = new Map([[sha256(a.cert + a.key), a.cert + a.key]]);
    const asked: string[] = [];
    const fetch = async (sha: string) => (asked.push(sha), store.get(sha) ?? null);
    const file = domainCertFile(dir, "a.example.com");
    const none = new Map<string, LoadedCert>();
    const first = await certsToLoad(dir, new Map([["a.example.com", sha256(a.cert + a.key)]]), none, fetch);
    const one = first.next;
    assert.equal(first.waiting.size, 0);
    assert.equal(fs.readFileSync(file, "utf8"), a.cert + a.key);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(renderCrtList(one), `${file} a.example.com\n`);
    // Loaded already: not fetched again.
    await certsToLoad(dir, new Map([["a.example.com", sha256(a.cert + a.key)]]), one, fetch);
    assert.equal(asked.length, 1);
    const add = certSteps("/r/crt-list", none, one);
    assert.deepEqual(add.adds.map((s) => s.cmd.split("\n")[0]), [`new ssl cert ${file}`, `set ssl cert ${file} <<`, `commit ssl cert ${file}`, "add ssl crt-list /r/crt-list <<"]);
    assert.equal(add.adds[3].cmd, `add ssl crt-list /r/crt-list <<\n${file} a.example.com\n`);
    assert.doesNotMatch(add.adds[1].cmd, /\n\n/, "no empty line inside the payload");
    assert.deepEqual(add.removes, []);

    // Published but not (yet) in the store, or the store holding something else under its name: keeps what it has, and waits.
    const stale = await certsToLoad(dir, new Map([["a.example.com", sha256(b.cert + b.key)]]), one, fetch);
    assert.equal(stale.next.get("a.example.com")!.sha256, sha256(a.cert + a.key));
    assert.deepEqual([...stale.waiting], [["a.example.com", sha256(b.cert + b.key)]]);
    store.set(sha256(b.cert + b.key), a.cert + a.key);
    assert.equal((await certsToLoad(dir, new Map([["a.example.com", sha256(b.cert + b.key)]]), one, fetch)).next.get("a.example.com")!.sha256, sha256(a.cert + a.key));
    assert.equal(fs.readFileSync(file, "utf8"), a.cert + a.key, "the copy is what HAProxy serves");
    store.set(sha256(b.cert + b.key), b.cert + b.key);
    const { next: renewed } = await certsToLoad(dir, new Map([["a.example.com", sha256(b.cert + b.key)]]), one, fetch);
    assert.equal(fs.readFileSync(file, "utf8"), b.cert + b.key);
    assert.deepEqual(certSteps("/r/crt-list", one, renewed).adds.map((s) => s.cmd.split("\n")[0]), [`set ssl cert ${file} <<`, `commit ssl cert ${file}`]);

    const gone = certSteps("/r/crt-list", renewed, none);
    assert.deepEqual(gone.adds, []);
    assert.deepEqual(gone.removes.map((s) => s.cmd), [`del ssl crt-list /r/crt-list ${file}`, `del ssl cert ${file}`]);
    dropCertFiles(dir, renewed, none);
    assert.equal(fs.existsSync(file), false, "its copy goes with it");
    const missing = await certsToLoad(dir, new Map([["b.example.com", "0".repeat(64)]]), none, fetch);
    assert.equal(missing.next.size, 0, "not in the store: nothing to load");
    assert.equal(missing.waiting.size, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
