#!/usr/bin/env node
/**
 * The static site server shipped into static images (/opt/paas/static-server.mjs on
 * stack/node). Dependency-free on purpose: it runs with the stack's node and nothing else.
 *
 *   node static-server.mjs                 serve /app (or $STATIC_DIR) on $PORT
 *   node static-server.mjs --precompress   write .gz next to compressible files (build time)
 *
 * static.json (Heroku's format, subset): { "root": "dist/", "clean_urls": true }.
 * Caching: ETag + Last-Modified with 304s; Cache-Control long and immutable for
 * hashed asset names (app.3f9c2b1a.js), no-cache for HTML, short for the rest.
 * gzip: a precompressed .gz sibling when it is current, else compressed once and
 * kept in a small in-memory cache.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8", ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8", ".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8",
  ".xml": "application/xml; charset=utf-8", ".csv": "text/csv; charset=utf-8", ".svg": "image/svg+xml",
  ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
  ".avif": "image/avif", ".ico": "image/x-icon", ".bmp": "image/bmp", ".woff": "font/woff", ".woff2": "font/woff2",
  ".ttf": "font/ttf", ".otf": "font/otf", ".eot": "application/vnd.ms-fontobject", ".wasm": "application/wasm",
  ".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip", ".mp4": "video/mp4",
  ".webm": "video/webm", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wav",
  ".webmanifest": "application/manifest+json", ".manifest": "text/cache-manifest",
};
const COMPRESSIBLE = /^(text\/|application\/(json|javascript|xml|manifest\+json|wasm)|image\/svg|font\/(ttf|otf)|application\/vnd\.ms-fontobject)/;
/** A content hash in the name: app.3f9c2b1a.js, chunk-5FQX2ZKQ.js, main-abcdef1234.css. */
const HASHED = /[.-](?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{8,}\.[a-z0-9]+$/;
const MIN_GZIP = 256;
const GZ_CACHE_MAX = 32 << 20;

export function contentType(file) {
  return TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

export function cacheControl(file) {
  const type = contentType(file);
  if (type.startsWith("text/html")) return "no-cache";
  if (HASHED.test(path.basename(file))) return "public, max-age=31536000, immutable";
  return "public, max-age=300";
}

/** Reads static.json next to the site (or in `appDir`): root and clean_urls. */
export function loadSettings(appDir) {
  let json = {};
  try {
    json = JSON.parse(fs.readFileSync(path.join(appDir, "static.json"), "utf8"));
  } catch (err) {
    if (err.code !== "ENOENT") throw new Error(`static.json: ${err.message}`);
  }
  let root = json.root;
  if (!root) {
    const hasIndex = fs.existsSync(path.join(appDir, "index.html"));
    root = !hasIndex && fs.existsSync(path.join(appDir, "public")) ? "public" : ".";
  }
  return { root: path.resolve(appDir, root), cleanUrls: json.clean_urls === true };
}

/** Build time: a .gz next to every compressible file worth it (the server prefers it). */
export async function precompress(root) {
  let n = 0;
  const walk = async (dir) => {
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && !e.name.startsWith(".")) await walk(p);
      } else if (e.isFile() && !p.endsWith(".gz") && COMPRESSIBLE.test(contentType(p))) {
        const st = await fsp.stat(p);
        if (st.size < MIN_GZIP) continue;
        const gz = zlib.gzipSync(await fsp.readFile(p), { level: 9 });
        if (gz.length >= st.size) continue;
        await fsp.writeFile(p + ".gz", gz);
        await fsp.utimes(p + ".gz", st.atime, st.mtime);
        n++;
      }
    }
  };
  await walk(root);
  return n;
}

const NOT_FOUND_PAGE = "<!doctype html><title>404 Not Found</title><h1>404 Not Found</h1><p>There is no page at this address.</p>\n";

export function createStaticServer({ root, cleanUrls = false }) {
  const gzCache = new Map(); // path -> { mtimeMs, size, gz }
  let gzCacheBytes = 0;

  const statFile = async (p) => {
    try {
      return await fsp.stat(p);
    } catch {
      return null;
    }
  };

  /** URL path -> [file, stat] or a redirect; null when nothing is there. */
  const resolve = async (urlPath) => {
    const rel = path.posix.normalize(urlPath);
    // Hidden files (.env, .git) are never served; .well-known is the standard exception.
    if (rel.split("/").some((s) => s.startsWith(".") && s !== ".well-known")) return null;
    const file = path.join(root, rel);
    if (file !== root && !file.startsWith(root + path.sep)) return null;
    const st = await statFile(file);
    if (st?.isFile()) return { file, st };
    if (st?.isDirectory()) {
      if (!urlPath.endsWith("/")) return { redirect: urlPath + "/" };
      const index = path.join(file, "index.html");
      const ist = await statFile(index);
      if (ist?.isFile()) return { file: index, st: ist };
      return null;
    }
    if (cleanUrls && !urlPath.endsWith("/")) {
      const html = file + ".html";
      const hst = await statFile(html);
      if (hst?.isFile()) return { file: html, st: hst };
    }
    return null;
  };

  const gzipped = async (file, st) => {
    const pre = await statFile(file + ".gz");
    if (pre?.isFile() && pre.mtimeMs >= st.mtimeMs) return { stream: () => fs.createReadStream(file + ".gz"), size: pre.size };
    const hit = gzCache.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return { buffer: hit.gz, size: hit.gz.length };
    const gz = zlib.gzipSync(await fsp.readFile(file), { level: 6 });
    if (gz.length < GZ_CACHE_MAX / 8) {
      if (hit) gzCacheBytes -= hit.gz.length;
      gzCache.set(file, { mtimeMs: st.mtimeMs, size: st.size, gz });
      gzCacheBytes += gz.length;
      // Oldest first out (Map keeps insertion order).
      for (const [k, v] of gzCache) {
        if (gzCacheBytes <= GZ_CACHE_MAX) break;
        gzCache.delete(k);
        gzCacheBytes -= v.gz.length;
      }
    }
    return { buffer: gz, size: gz.length };
  };

  const send = async (req, res, found, status = 200) => {
    const { file, st } = found;
    const type = contentType(file);
    const etag = `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const headers = {
      "content-type": type,
      "cache-control": status === 200 ? cacheControl(file) : "no-cache",
      "last-modified": st.mtime.toUTCString(),
      etag,
    };
    const compressible = COMPRESSIBLE.test(type) && st.size >= MIN_GZIP;
    if (compressible) headers.vary = "Accept-Encoding";
    if (status === 200) {
      const inm = req.headers["if-none-match"];
      const ims = req.headers["if-modified-since"];
      const fresh = inm !== undefined
        ? inm.split(",").some((t) => t.trim() === etag || t.trim() === "*")
        : ims !== undefined && Math.floor(st.mtimeMs / 1000) <= Math.floor(Date.parse(ims) / 1000);
      if (fresh) {
        res.writeHead(304, { etag, "cache-control": headers["cache-control"], "last-modified": headers["last-modified"], ...(compressible ? { vary: "Accept-Encoding" } : {}) });
        return res.end();
      }
    }
    const wantsGzip = compressible && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    if (wantsGzip) {
      const gz = await gzipped(file, st);
      res.writeHead(status, { ...headers, "content-encoding": "gzip", "content-length": gz.size });
      if (req.method === "HEAD") return res.end();
      if (gz.buffer) return res.end(gz.buffer);
      return gz.stream().on("error", () => res.destroy()).pipe(res);
    }
    res.writeHead(status, { ...headers, "content-length": st.size });
    if (req.method === "HEAD") return res.end();
    fs.createReadStream(file).on("error", () => res.destroy()).pipe(res);
  };

  const handle = async (req, res) => {
    res.setHeader("x-content-type-options", "nosniff");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      return res.end("405 Method Not Allowed\n");
    }
    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
      return res.end("400 Bad Request\n");
    }
    if (urlPath.includes("\0")) {
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
      return res.end("400 Bad Request\n");
    }
    const found = await resolve(urlPath);
    if (found?.redirect) {
      const q = (req.url ?? "").indexOf("?");
      res.writeHead(301, { location: encodeURI(found.redirect) + (q >= 0 ? req.url.slice(q) : ""), "content-type": "text/plain; charset=utf-8" });
      return res.end("301 Moved Permanently\n");
    }
    if (found) return send(req, res, found);
    const page = path.join(root, "404.html");
    const pst = await statFile(page);
    if (pst?.isFile()) return send(req, res, { file: page, st: pst }, 404);
    res.writeHead(404, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache", "content-length": Buffer.byteLength(NOT_FOUND_PAGE) });
    res.end(req.method === "HEAD" ? undefined : NOT_FOUND_PAGE);
  };

  return http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error(`static: ${req.method} ${req.url}: ${err.message}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end("500 Internal Server Error\n");
    });
  });
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const appDir = process.env.STATIC_DIR ?? "/app";
  const settings = loadSettings(appDir);
  if (process.argv.includes("--precompress")) {
    const n = await precompress(settings.root);
    console.log(`gzipped ${n} file${n === 1 ? "" : "s"} in ${path.relative(appDir, settings.root) || "."}/`);
  } else {
    const port = Number(process.env.PORT ?? 5000);
    const server = createStaticServer(settings);
    server.keepAliveTimeout = 65_000;
    server.listen(port, "0.0.0.0", () => console.log(`static: serving ${settings.root} on ${port}`));
    process.on("SIGTERM", () => server.close(() => process.exit(0)));
  }
}
