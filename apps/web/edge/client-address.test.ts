import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";
import { clientAddress, install, trustedProxies } from "./client-address.mjs";

test("a client's own X-Forwarded-For is ignored: the address is the peer", () => {
  const t = trustedProxies();
  assert.equal(clientAddress("203.0.113.9", "1.2.3.4", t), "203.0.113.9");
  assert.equal(clientAddress("::ffff:203.0.113.9", "1.2.3.4, 127.0.0.1", t), "203.0.113.9");
  assert.equal(clientAddress("2001:db8::1", undefined, t), "2001:db8::1");
});

test("behind trusted proxies: the right-most address that is not one of them", () => {
  const t = trustedProxies("10.0.0.0/8, 192.0.2.7");
  // the platform's router on this host appended the client it saw
  assert.equal(clientAddress("127.0.0.1", "6.6.6.6, 198.51.100.4", t), "198.51.100.4");
  assert.equal(clientAddress("::1", "198.51.100.4", t), "198.51.100.4");
  // a load balancer of the operator's, then the router
  assert.equal(clientAddress("127.0.0.1", "6.6.6.6, 198.51.100.4, 10.1.2.3", t), "198.51.100.4");
  assert.equal(clientAddress("192.0.2.7", ["6.6.6.6, 198.51.100.4"], t), "198.51.100.4");
  // a proxy that sent nothing, or garbage: the last trusted hop
  assert.equal(clientAddress("127.0.0.1", undefined, t), "127.0.0.1");
  assert.equal(clientAddress("10.1.2.3", "not-an-address", t), "10.1.2.3");
  // all trusted: the left-most of them
  assert.equal(clientAddress("127.0.0.1", "10.9.9.9, 10.1.1.1", t), "10.9.9.9");
});

test("PAAS_TRUSTED_PROXIES: a bad entry is refused naming it", () => {
  assert.throws(() => trustedProxies("10.0.0.0/33"), /"10\.0\.0\.0\/33" is not an address or a CIDR/);
  assert.throws(() => trustedProxies("proxy.example.com"), /proxy\.example\.com/);
  assert.throws(() => trustedProxies("10.0.0.1/8/9"), /10\.0\.0\.1\/8\/9/);
});

test("installed, a server's handlers see the decided address, whatever the client sent", async () => {
  install({});
  const server = http.createServer((req, res) => res.end(JSON.stringify([req.headers["x-forwarded-for"], req.headers["x-real-ip"]])));
  const spoof = { "x-forwarded-for": "1.2.3.4", "x-real-ip": "5.6.7.8" };
  // From an address that is no proxy of ours (the request as a socket from elsewhere would bring it): what the client named is ignored.
  const seen: unknown[] = [];
  const req = { socket: { remoteAddress: "::ffff:203.0.113.9" }, headers: { ...spoof } };
  server.emit("request", req, { end: (body: string) => seen.push(JSON.parse(body)) });
  assert.deepEqual(seen, [["203.0.113.9", "203.0.113.9"]]);
  // Over a real connection from loopback (trusted, as the platform's router is): the right-most forwarded address.
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const ask = async (headers: Record<string, string> = {}) => (await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`, { headers })).json();
  try {
    assert.deepEqual(await ask(spoof), ["1.2.3.4", "1.2.3.4"]);
    assert.deepEqual(await ask(), ["127.0.0.1", "127.0.0.1"]);
  } finally {
    server.close();
  }
});
