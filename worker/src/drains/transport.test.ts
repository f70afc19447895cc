/** The transports against real local servers: frames arrive, TLS is verified, local addresses are refused unless allowed. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { parseDrainUrl } from "@paas/shared/drains";
import { caSigned } from "../../../tests/helpers/certs.ts";
import { parseOctetFrames } from "./framing.ts";
import { describeError, transportFor } from "./transport.ts";

const cert = caSigned(["localhost"]);
const got: Buffer[] = [];
let connections = 0;
const serverSockets: net.Socket[] = [];
const servers: net.Server[] = [];
let tcpPort = 0;
let tlsPort = 0;
let httpsPort = 0;
const posts: { headers: Record<string, unknown>; body: string }[] = [];
let httpsStatus = 204;

async function listen(s: net.Server): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  return (s.address() as net.AddressInfo).port;
}

before(async () => {
  const onSocket = (s: net.Socket) => {
    connections++;
    serverSockets.push(s);
    s.on("data", (d: Buffer) => got.push(d));
  };
  tcpPort = await listen(net.createServer(onSocket));
  tlsPort = await listen(tls.createServer({ cert: cert.cert, key: cert.key }, onSocket));
  httpsPort = await listen(
    https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        posts.push({ headers: req.headers, body });
        res.writeHead(httpsStatus).end();
      });
    }),
  );
});

after(() => {
  for (const s of servers) {
    (s as https.Server).closeAllConnections?.();
    s.close();
  }
});

const opts = { drainToken: "d.test", allowLocal: true, extraCa: cert.ca, timeoutMs: 5000 };
const received = () => parseOctetFrames(Buffer.concat(got));

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("syslog+tcp and syslog+tls: octet-counted frames on one kept connection", async () => {
  for (const url of [`syslog+tcp://127.0.0.1:${tcpPort}`, `syslog+tls://localhost:${tlsPort}`]) {
    got.length = 0;
    const before = connections;
    const t = transportFor(parseDrainUrl(url, { allowLocal: true }), opts);
    await t.send(["<190>1 a", "<187>1 b"]);
    await t.send(["<190>1 c"]);
    await until(() => received().length === 3, `three frames over ${url}`);
    assert.deepEqual(received(), ["<190>1 a", "<187>1 b", "<190>1 c"]);
    assert.equal(connections - before, 1, "one connection for both batches");
    t.close();
  }
});

test("syslog: a write is answered with its connection, open until the server closes it (FIN or TLS close_notify); the next write connects anew", async () => {
  for (const url of [`syslog+tcp://127.0.0.1:${tcpPort}`, `syslog+tls://localhost:${tlsPort}`]) {
    const t = transportFor(parseDrainUrl(url, { allowLocal: true }), opts);
    const before = serverSockets.length;
    const first = await t.send(["<190>1 a"]);
    assert.ok(first && t.open(first.conn), url);
    assert.equal(first.bytes, "8 <190>1 a".length);
    await until(() => serverSockets.length === before + 1, "the server's side");
    serverSockets.at(-1)!.end();
    await until(() => !t.open(first.conn), `the connection seen closed (${url})`);
    const second = await t.send(["<190>1 b"]);
    assert.ok(second && second.conn !== first.conn && t.open(second.conn));
    t.close();
    assert.equal(t.open(second.conn), false, "closed by us");
  }
});

test("syslog+tls refuses a server whose certificate no trusted CA signed", async () => {
  const t = transportFor(parseDrainUrl(`syslog+tls://localhost:${tlsPort}`, { allowLocal: true }), { ...opts, extraCa: undefined });
  await assert.rejects(t.send(["x"]), (err: Error) => /TLS with localhost:\d+ failed: .*certificate/i.test(describeError(err, parseDrainUrl(`syslog+tls://localhost:${tlsPort}`, { allowLocal: true }))));
  t.close();
});

test("a host that resolves to this host, or an address of it, is refused at connect time unless allowed", async () => {
  const before = connections;
  for (const url of [`syslog+tcp://localhost:${tcpPort}`, `syslog+tcp://127.0.0.1:${tcpPort}`, `https://localhost:${httpsPort}/x`]) {
    const t = transportFor(parseDrainUrl(url, { allowLocal: true }), { ...opts, allowLocal: false });
    await assert.rejects(t.send(["x"]), /(localhost resolves to (127\.0\.0\.1|::1), which|127\.0\.0\.1) is this platform's own host or network/, url);
    t.close();
  }
  assert.equal(connections, before, "no connection was made");
  assert.equal(posts.length, 0);
});

test("https: one POST per batch with logplex headers and basic auth; a non-2xx answer is an error", async () => {
  const t = transportFor(parseDrainUrl(`https://u:p%40ss@localhost:${httpsPort}/logs?x=1`, { allowLocal: true }), opts);
  assert.equal(await t.send(["<190>1 a", "<190>1 bb"]), null, "the answer is the receipt");
  assert.equal(posts.length, 1);
  assert.equal(posts[0]!.body, "8 <190>1 a9 <190>1 bb");
  assert.equal(posts[0]!.headers["content-type"], "application/logplex-1");
  assert.equal(posts[0]!.headers["logplex-msg-count"], "2");
  assert.equal(posts[0]!.headers["logplex-drain-token"], "d.test");
  assert.equal(posts[0]!.headers.authorization, `Basic ${Buffer.from("u:p@ss").toString("base64")}`);
  httpsStatus = 401;
  await assert.rejects(t.send(["x"]), /answered HTTP 401 \(check the drain URL's credentials\)/);
  httpsStatus = 204;
  t.close();
});

test("a refused connection is said in words", async () => {
  const s = net.createServer();
  const port = await listen(s);
  s.close();
  const target = parseDrainUrl(`syslog+tcp://127.0.0.1:${port}`, { allowLocal: true });
  const t = transportFor(target, opts);
  await assert.rejects(t.send(["x"]), (err: Error) => describeError(err, target) === `connection refused by 127.0.0.1:${port}: is the log server running and listening there?`);
  t.close();
});
