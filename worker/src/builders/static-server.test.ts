/** The static server on a real temp dir and a real socket. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

interface StaticServerModule {
  createStaticServer(o: { root: string; cleanUrls?: boolean }): http.Server;
  loadSettings(dir: string): { root: string; cleanUrls: boolean };
  precompress(root: string): Promise<number>;
}
const modPath = path.join(import.meta.dirname, "static-server.mjs");
const { createStaticServer, loadSettings, precompress } = (await import(modPath)) as StaticServerModule;

let dir: string;
let server: http.Server;
let base: string;
const big = "body { color: red; }\n".repeat(200);

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "static-"));
  const files: Record<string, string> = {
    "static.json": JSON.stringify({ root: "dist/", clean_urls: true }),
    "dist/index.html": "<h1>home</h1>",
    "dist/about.html": "<h1>about</h1>",
    "dist/docs/index.html": "<h1>docs</h1>",
    "dist/app.3f9c2b1a.css": big,
    "dist/plain.css": big,
    "dist/logo.svg": "<svg/>",
    "dist/data.bin": "xx",
    "dist/404.html": "<h1>custom missing</h1>",
    "dist/.env": "SECRET=1",
    "secret.txt": "outside the root",
  };
  for (const [f, body] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await fs.writeFile(path.join(dir, f), body);
  }
  const settings = loadSettings(dir);
  assert.deepEqual(settings, { root: path.join(dir, "dist"), cleanUrls: true });
  server = createStaticServer(settings);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

// fetch would decompress and hide content-encoding; ask raw.
const get = (p: string, headers: Record<string, string> = {}) => fetch(base + p, { headers: { "accept-encoding": "identity", ...headers }, redirect: "manual" });

test("serves files with their content type, and index.html for directories", async () => {
  const r = await get("/");
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(await r.text(), "<h1>home</h1>");
  assert.equal((await get("/logo.svg")).headers.get("content-type"), "image/svg+xml");
  assert.equal((await get("/data.bin")).headers.get("content-type"), "application/octet-stream");
  assert.equal(await (await get("/docs/")).text(), "<h1>docs</h1>");
  const redirect = await get("/docs?x=1");
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get("location"), "/docs/?x=1");
});

test("clean_urls serves /about from about.html", async () => {
  assert.equal(await (await get("/about")).text(), "<h1>about</h1>");
});

test("404 page, hidden files and paths outside the root are not served", async () => {
  for (const p of ["/nope", "/.env", "/../secret.txt", "/%2e%2e/secret.txt"]) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.equal(await r.text(), "<h1>custom missing</h1>");
  }
  assert.equal((await fetch(base + "/", { method: "POST" })).status, 405);
});

test("cache headers: immutable for hashed names, no-cache for HTML, 304 on a matching ETag or date", async () => {
  assert.equal((await get("/app.3f9c2b1a.css")).headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal((await get("/plain.css")).headers.get("cache-control"), "public, max-age=300");
  const html = await get("/");
  assert.equal(html.headers.get("cache-control"), "no-cache");
  const etag = html.headers.get("etag")!;
  assert.match(etag, /^W\/"/);
  assert.equal((await get("/", { "if-none-match": etag })).status, 304);
  assert.equal((await get("/", { "if-none-match": 'W/"other"' })).status, 200);
  const lm = html.headers.get("last-modified")!;
  assert.equal((await get("/", { "if-modified-since": lm })).status, 304);
  assert.equal((await get("/", { "if-modified-since": new Date(Date.parse(lm) - 10_000).toUTCString() })).status, 200);
});

/** Raw bytes and headers: fetch would decode the gzip and hide what went over the wire. */
const raw = (p: string, headers: Record<string, string>) =>
  new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    http.get(base + p, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    }).on("error", reject);
  });

test("gzip on the fly, and the precompressed file once there", async () => {
  const r = await raw("/plain.css", { "accept-encoding": "gzip, br" });
  assert.equal(r.headers["content-encoding"], "gzip");
  assert.equal(r.headers.vary, "Accept-Encoding");
  const body = r.body;
  assert.ok(body.length < big.length / 10);
  assert.equal(zlib.gunzipSync(body).toString(), big);
  assert.equal((await raw("/plain.css", {})).headers["content-encoding"], undefined, "no gzip unless asked");
  assert.equal((await raw("/logo.svg", { "accept-encoding": "gzip" })).headers["content-encoding"], undefined, "tiny files go as they are");

  assert.equal(await precompress(path.join(dir, "dist")), 2);
  // The server prefers the .gz: make it distinguishable, same age as the css.
  const marker = zlib.gzipSync("precompressed");
  await fs.writeFile(path.join(dir, "dist/plain.css.gz"), marker);
  const again = await raw("/plain.css", { "accept-encoding": "gzip" });
  assert.equal(zlib.gunzipSync(again.body).toString(), "precompressed");
});
