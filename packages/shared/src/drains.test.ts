import { test } from "node:test";
import assert from "node:assert/strict";
import { DrainUrlError, drainUrl, isLocalAddress, localBlockList, maskDrainUrl, parseDrainUrl } from "./drains.ts";

test("drain URLs: syslog+tcp, syslog+tls with a port, https with path and credentials", () => {
  assert.deepEqual(parseDrainUrl("syslog+tcp://Logs.Example.com:514"), { scheme: "syslog+tcp", host: "logs.example.com", port: 514, url: "syslog+tcp://logs.example.com:514" });
  assert.equal(parseDrainUrl("syslog+tls://logs.example.com:6514").port, 6514);
  const h = parseDrainUrl("https://u:p@logs.example.com/drain?x=1");
  assert.deepEqual([h.scheme, h.host, h.port, h.url], ["https", "logs.example.com", 443, "https://u:p@logs.example.com/drain?x=1"]);
  assert.equal(parseDrainUrl("https://logs.example.com:8443/").port, 8443);
  assert.equal(parseDrainUrl("syslog+tcp://203.0.113.5:514").host, "203.0.113.5");
  assert.equal(parseDrainUrl("syslog+tcp://[2001:db8::1]:514").host, "2001:db8::1");
});

test("bad drain URLs are refused with what to write", () => {
  const refused = (url: string, why: RegExp) => assert.throws(() => parseDrainUrl(url), (e: Error) => e instanceof DrainUrlError && why.test(e.message), url);
  refused("", /a drain URL is needed/);
  refused("logs.example.com:514", /drains speak/);
  refused("http://logs.example.com/", /drains speak syslog\+tcp:\/\/, syslog\+tls:\/\/, https:\/\/, not http:\/\//);
  refused("syslog://logs.example.com:514", /not syslog:\/\//);
  refused("syslog+tcp://logs.example.com", /needs a port: syslog\+tcp:\/\/logs.example.com:514/);
  refused("syslog+tcp://logs.example.com:99999", /not a URL|port/);
  refused("syslog+tcp://logs.example.com:514/path", /only syslog\+tcp:\/\/HOST:PORT/);
  refused("syslog+tcp://bad_host!:514", /not a URL|not a host name/);
  refused(`https://logs.example.com/${"x".repeat(2100)}`, /at most 2048/);
});

test("the host itself, loopback, link-local and the bridge are refused unless allowed", () => {
  const blocked = localBlockList("10.88.0.0/24");
  for (const url of ["syslog+tcp://127.0.0.1:6379", "syslog+tcp://localhost:514", "https://127.1.2.3/", "syslog+tcp://[::1]:514", "syslog+tcp://169.254.169.254:80", "syslog+tcp://10.88.0.7:514", "syslog+tcp://0.0.0.0:514", "syslog+tcp://[::ffff:127.0.0.1]:514", "https://api.localhost/"]) {
    assert.throws(() => parseDrainUrl(url, { blocked }), /this platform's own host or network.*PAAS_DRAINS_ALLOW_LOCAL=1/, url);
    assert.doesNotThrow(() => parseDrainUrl(url, { blocked, allowLocal: true }), url);
  }
  assert.equal(isLocalAddress("10.89.0.7", blocked), false);
  assert.equal(isLocalAddress("203.0.113.5", blocked), false);
  assert.equal(isLocalAddress("::ffff:127.0.0.1", blocked), true);
  assert.equal(isLocalAddress("fe80::1%eth0", blocked), true);
});

test("the zod edge gives the normalised URL or the reason as the issue", () => {
  assert.equal(drainUrl({}).parse(" syslog+tls://LOGS.example.com:6514 "), "syslog+tls://logs.example.com:6514");
  const r = drainUrl({}).safeParse("syslog+tcp://127.0.0.1:514");
  assert.ok(!r.success && /own host/.test(r.error.issues[0]!.message));
  assert.equal(drainUrl({ PAAS_DRAINS_ALLOW_LOCAL: "1" }).parse("syslog+tcp://127.0.0.1:514"), "syslog+tcp://127.0.0.1:514");
});

test("masked URLs hide passwords, lone user names, query values and token-like path segments", () => {
  assert.equal(maskDrainUrl("https://user:s3cret@logs.example.com/drain"), "https://user:***@logs.example.com/drain");
  assert.equal(maskDrainUrl("https://abcdef0123456789abcdef@logs.example.com/"), "https://***@logs.example.com/");
  assert.equal(maskDrainUrl("https://logs.example.com/in?token=abc&app=x"), "https://logs.example.com/in?token=***&app=***");
  assert.equal(maskDrainUrl("https://logs.example.com/v1/input/0a1b2c3d4e5f6a7b8c9d/x"), "https://logs.example.com/v1/input/***/x");
  assert.equal(maskDrainUrl("syslog+tls://logs.example.com:6514"), "syslog+tls://logs.example.com:6514");
  assert.equal(maskDrainUrl("not a url://a:b@c"), "not a url://***@c");
});
