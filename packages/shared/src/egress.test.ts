import { test } from "node:test";
import assert from "node:assert/strict";
import { egressAllowText, formatEgressAllow, parseEgressAllow } from "./egress.ts";

test("allow lists: addresses, networks and host names with a port, TCP unless /udp", () => {
  assert.deepEqual(parseEgressAllow("10.1.2.3:5432, 10.8.0.0/16:443,DB.example.com:5432,10.0.0.2:514/udp"), [
    { dest: "10.1.2.3", cidr: "10.1.2.3/32", port: 5432, protocol: "tcp" },
    { dest: "10.8.0.0/16", cidr: "10.8.0.0/16", port: 443, protocol: "tcp" },
    { dest: "db.example.com", port: 5432, protocol: "tcp" },
    { dest: "10.0.0.2", cidr: "10.0.0.2/32", port: 514, protocol: "udp" },
  ]);
  assert.equal(formatEgressAllow(parseEgressAllow("10.1.2.3:5432,10.1.2.3:5432/tcp,x.io:53/UDP")), "10.1.2.3:5432,x.io:53/udp");
});

test("a bad allow list is refused naming the entry and the syntax", () => {
  for (const [text, says] of [
    ["", /empty/],
    ["10.1.2.3", /"10\.1\.2\.3": no port/],
    ["10.1.2.3:0", /port must be 1 to 65535/],
    ["10.1.2.3:70000", /port must be 1 to 65535/],
    ["10.1.2.300:80", /not an IPv4 address, network or host name/],
    ["10.1.2.0/33:80", /not an IPv4 network/],
    ["bad_name:80", /not an IPv4 address/],
    ["[::1]:80", /not an IPv4 address/],
    [Array.from({ length: 33 }, (_, i) => `10.0.0.${i}:80`).join(","), /at most 32/],
  ] as const) {
    assert.throws(() => parseEgressAllow(text), (e: Error) => says.test(e.message) && /DEST:PORT|empty|at most/.test(e.message), text);
  }
  const r = egressAllowText.safeParse("nope");
  assert.equal(r.success, false);
});
