import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { HelperServer } from "./helper.ts";
import { allowEntries, BridgeNetwork, containerResolvConf, parseSubnet } from "./network.ts";
import { Layout } from "./paths.ts";

/** Never started: these tests fork nothing. */
const helper = new HelperServer();

test("parseSubnet gives the gateway at the first address", () => {
  const s = parseSubnet("10.88.0.0/24");
  assert.equal(s.gateway, "10.88.0.1");
  assert.equal(s.bits, 24);
  assert.equal(parseSubnet("10.88.0.77/24").gateway, "10.88.0.1");
  assert.throws(() => parseSubnet("10.88.0.0/31"), /bad subnet/);
  assert.throws(() => parseSubnet("10.300.0.0/24"), /bad IPv4/);
});

test("IPAM hands out the lowest free address, persists it, and reuses freed ones", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-ipam-"));
  try {
    const layout = new Layout(dir);
    const a = new BridgeNetwork(layout, { bridge: "x0", subnet: "10.1.2.0/29" }, helper);
    assert.equal(a.allocate("c1", false), "10.1.2.2");
    assert.equal(a.allocate("c2", true), "10.1.2.3");
    assert.equal(a.allocate("c1", false), "10.1.2.2", "same container, same address");
    // a second instance (another process) sees the same file
    const b = new BridgeNetwork(layout, { bridge: "x0", subnet: "10.1.2.0/29" }, helper);
    assert.equal(b.addressOf("c2"), "10.1.2.3");
    assert.equal(b.release("c1"), "10.1.2.2");
    assert.equal(b.allocate("c3", false), "10.1.2.2");
    for (const id of ["c4", "c5", "c6"]) b.allocate(id, false); // .4 .5 .6; .7 is broadcast
    assert.throws(() => b.allocate("c7", false), /no free address/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("containers get the host's resolvers, loopback ones left out", () => {
  const text = containerResolvConf();
  assert.match(text, /nameserver /);
  assert.doesNotMatch(text, /nameserver 127\./);
});

test("team sets: names fit ipset's 31 characters, differ per team, and IPAM keeps the team", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-ipam-"));
  try {
    const layout = new Layout(dir);
    const n = new BridgeNetwork(layout, { bridge: "abcdefghijklmno", subnet: "10.1.3.0/29" }, helper);
    const a = n.teamSet("team-a");
    assert.ok(a.length <= 31, a);
    assert.equal(n.teamSet("team-a"), a, "stable");
    assert.notEqual(n.teamSet("team-b"), a);
    assert.ok(n.isoChain.length <= 28 && n.chain.length <= 28);
    n.allocate("c1", false, "team-a");
    const ipam = JSON.parse(fs.readFileSync(path.join(layout.net, "abcdefghijklmno.json"), "utf8"));
    assert.deepEqual(ipam.addresses["10.1.3.2"], { id: "c1", egress: false, team: "team-a" });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a limited container's allow entries: protocol:port,net, TCP unless said, /0 as its halves, DNS to its nameservers", () => {
  assert.deepEqual(
    allowEntries(
      [
        { cidr: "10.1.2.3/32", port: 5432 },
        { cidr: "10.1.2.3/32", port: 5432, protocol: "tcp" },
        { cidr: "192.168.0.0/16", port: 53, protocol: "udp" },
        { cidr: "0.0.0.0/0", port: 443 },
      ],
      ["10.0.0.53"],
    ),
    ["tcp:5432,10.1.2.3/32", "udp:53,192.168.0.0/16", "tcp:443,0.0.0.0/1", "tcp:443,128.0.0.0/1", "udp:53,10.0.0.53/32", "tcp:53,10.0.0.53/32"],
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-ipam-"));
  try {
    const n = new BridgeNetwork(new Layout(dir), { bridge: "x1", subnet: "10.1.4.0/29" }, helper);
    assert.ok(n.allowSet.length <= 31);
    n.allocate("c1", false, "t", ["tcp:5432,10.1.2.3/32"]);
    const ipam = JSON.parse(fs.readFileSync(path.join(dir, "runtime", "net", "x1.json"), "utf8"));
    assert.deepEqual(ipam.addresses["10.1.4.2"], { id: "c1", egress: false, team: "t", allow: ["tcp:5432,10.1.2.3/32"] }, "kept, so a restarted host puts the entries back");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
