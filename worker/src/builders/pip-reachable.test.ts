import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { withReachablePipIndexes } from "./pip-reachable.ts";

const ix = (env: Record<string, string>) => ({ env, binds: [], secrets: [] });

test("an index that does not answer is left out, the first extra one that does takes its place, and the log says so", async () => {
  const lines: string[] = [];
  const down = new Set(["https://pypi.org/simple", "https://user:pw@down.example/simple"]);
  const probe = async (u: string) => (down.has(u) ? "ENOTFOUND" : null);
  const out = await withReachablePipIndexes(ix({ PIP_EXTRA_INDEX_URL: "https://user:pw@down.example/simple file:///opt/pypi/simple https://up.example/simple", PIP_TIMEOUT: "60" }), (l) => lines.push(l), probe);
  assert.deepEqual(out.env, { PIP_INDEX_URL: "file:///opt/pypi/simple", PIP_EXTRA_INDEX_URL: "https://up.example/simple", PIP_TIMEOUT: "60" });
  assert.equal(lines.length, 2);
  assert.match(lines[0], /pip index https:\/\/pypi\.org\/simple does not answer from this host \(ENOTFOUND\): left out of this build/);
  assert.ok(!lines.join().includes("pw"), "no credentials in the log");
});

test("all answering, a proxy, or no alternative: the settings stay as they are", async () => {
  const same = ix({ PIP_INDEX_URL: "https://a.example/simple" });
  assert.equal(await withReachablePipIndexes(same, () => {}, async () => null), same);
  const proxied = ix({ PIP_PROXY: "http://proxy:3128" });
  assert.equal(await withReachablePipIndexes(proxied, () => {}, async () => "ENOTFOUND"), proxied);
  const lines: string[] = [];
  const alone = ix({ PIP_INDEX_URL: "https://gone.example/simple" });
  assert.equal(await withReachablePipIndexes(alone, (l) => lines.push(l), async () => "ECONNREFUSED"), alone);
  assert.match(lines[0], /none of pip's indexes answers from this host/);
  // Only find-links left: pip looks there alone.
  const out = await withReachablePipIndexes(ix({ PIP_INDEX_URL: "https://gone2.example/simple", PIP_FIND_LINKS: "/opt/wheels" }), () => {}, async () => "ENOTFOUND");
  assert.deepEqual(out.env, { PIP_FIND_LINKS: "/opt/wheels", PIP_NO_INDEX: "1" });
});

test("the real probe: a server that answers (any status) is kept, a closed port is left out", async () => {
  const server = http.createServer((_req, res) => res.writeHead(404).end()).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const up = `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple`;
  const gone = http.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => gone.once("listening", r));
  const closed = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/simple`;
  await new Promise((r) => gone.close(r));
  const lines: string[] = [];
  const out = await withReachablePipIndexes(ix({ PIP_INDEX_URL: closed, PIP_EXTRA_INDEX_URL: up }), (l) => lines.push(l));
  server.close();
  assert.deepEqual(out.env, { PIP_INDEX_URL: up });
  assert.equal(lines[0], `pip index ${closed} does not answer from this host (ECONNREFUSED): left out of this build`);
});
