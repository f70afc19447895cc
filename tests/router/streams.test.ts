/**
 * What passes through the router whole but is never held whole: a WebSocket conversation, and
 * 50 MB request and response bodies, with the router's memory (its process and HAProxy's)
 * sampled while they stream.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import type { Duplex } from "node:stream";
import { backend, processTree, rss, startRouter, type Backend, type TestRouter } from "./helpers.ts";
import { answers } from "./helpers.ts";

let router: TestRouter;
const backends: Backend[] = [];
const MB = 2 ** 20;

before(async () => {
  router = await startRouter();
});
after(async () => {
  await router?.stop();
  for (const b of backends) await b.kill();
});

// The smallest WebSocket framing (RFC 6455): one text frame under 126 bytes; the client masks.
function frame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text);
  const key = mask ? crypto.randomBytes(4) : Buffer.alloc(0);
  const body = mask ? payload.map((b, i) => b ^ key[i % 4]) : payload;
  return Buffer.concat([Buffer.from([0x81, (mask ? 0x80 : 0) | payload.length]), key, body]);
}
function unframe(buf: Buffer): string {
  const masked = (buf[1] & 0x80) !== 0;
  const len = buf[1] & 0x7f;
  const key = masked ? buf.subarray(2, 6) : null;
  const body = buf.subarray(masked ? 6 : 2, (masked ? 6 : 2) + len);
  return Buffer.from(key ? body.map((b, i) => b ^ key[i % 4]) : body).toString();
}
const acceptKey = (key: string) => crypto.createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");

test("a WebSocket echo through the router", async () => {
  const b = await backend((_req, res) => res.end("ok"));
  backends.push(b);
  b.server.on("upgrade", (req: http.IncomingMessage, socket: Duplex) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(req.headers["sec-websocket-key"] as string)}\r\n\r\n`);
    socket.on("data", (d: Buffer) => socket.write(frame(`echo: ${unframe(d)}`, false)));
  });
  await router.publish("ws", [b.addr]);
  await answers(router.port, "ws.localhost", (r) => r.status === 200, "ws to be routed");

  const key = crypto.randomBytes(16).toString("base64");
  const socket = await new Promise<Duplex>((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port: router.port,
      headers: { host: "ws.localhost", connection: "Upgrade", upgrade: "websocket", "sec-websocket-key": key, "sec-websocket-version": "13" },
    });
    req.on("upgrade", (res, s: Duplex) => {
      assert.equal(res.headers["sec-websocket-accept"], acceptKey(key));
      resolve(s);
    });
    req.on("response", (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on("error", reject);
    req.end();
  });
  const next = () => new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(unframe(d))));
  for (const msg of ["hello", "second message", "third"]) {
    const reply = next();
    socket.write(frame(msg, true));
    assert.equal(await reply, `echo: ${msg}`);
  }
  socket.destroy();
});

/** The router's resident memory: its own process and HAProxy's (master and workers). */
const routerRss = () => processTree(router.proc.pid!).reduce((sum, pid) => sum + rss(pid), 0);

test("a 50 MB upload and a 50 MB download stream through with the router's memory bounded", async () => {
  const SIZE = 50 * MB;
  // The replica reads the upload slowly (a pause per MB), so a router that buffered would grow.
  const b = await backend((req, res) => {
    if (req.method === "HEAD") return res.end();
    if (req.url === "/download") {
      let sent = 0;
      const chunk = Buffer.alloc(MB, 7);
      const write = () => {
        while (sent < SIZE) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", write);
        }
        res.end();
      };
      return write();
    }
    let n = 0;
    let sincePause = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      sincePause += c.length;
      if (sincePause >= MB) {
        sincePause = 0;
        req.pause();
        setTimeout(() => req.resume(), 5);
      }
    });
    req.on("end", () => res.end(String(n)));
  });
  backends.push(b);
  await router.publish("big", [b.addr]);
  await answers(router.port, "big.localhost", (r) => r.status === 200, "big to be routed");

  const base = routerRss();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, routerRss())), 20);
  try {
    const uploaded = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: router.port, method: "POST", path: "/upload", headers: { host: "big.localhost", "content-length": String(SIZE) } }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve(body));
      });
      req.on("error", reject);
      const chunk = Buffer.alloc(MB, 1);
      let sent = 0;
      const write = () => {
        while (sent < SIZE) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", write);
        }
        req.end();
      };
      write();
    });
    assert.equal(Number(uploaded), SIZE);

    // The client reads the download slowly too.
    const downloaded = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port: router.port, path: "/download", headers: { host: "big.localhost" } }, (res) => {
          let n = 0;
          let sincePause = 0;
          res.on("data", (c: Buffer) => {
            n += c.length;
            sincePause += c.length;
            if (sincePause >= MB) {
              sincePause = 0;
              res.pause();
              setTimeout(() => res.resume(), 5);
            }
          });
          res.on("end", () => resolve(n));
        })
        .on("error", reject);
    });
    assert.equal(downloaded, SIZE);
  } finally {
    clearInterval(sampler);
  }
  const grew = (peak - base) / MB;
  console.log(`router RSS (controller + HAProxy): ${(base / MB).toFixed(1)} MB before, ${(peak / MB).toFixed(1)} MB at most while 2 x 50 MB streamed (+${grew.toFixed(1)} MB)`);
  assert.ok(grew < 10, `the router grew by ${grew.toFixed(1)} MB while 50 MB bodies streamed through it`);
});
