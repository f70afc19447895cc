/**
 * The agent as the host's exporter (agent/metrics.ts), on real containers: an app container's
 * cgroup figures and network bytes in the text format, an OOM kill counted, the containers with
 * metrics of their own listed for Prometheus's http_sd, and their /metrics relayed from the bridge.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ContainerSpec } from "@paas/shared/agent-api";
import { testAgent, until } from "./helpers.ts";

let t: Awaited<ReturnType<typeof testAgent>>;

before(async () => {
  t = await testAgent("mx", 171);
});
after(async () => {
  await t?.close();
});

const labels = { "paas.app": "shop", "paas.process": "web", "paas.replica": "1", "paas.release": "v3" };
const spec = (cmd: string, more: Partial<ContainerSpec> = {}): ContainerSpec => ({ image: "stack/busybox", cmd: ["sh", "-c", cmd], memoryBytes: 32 << 20, cgroupParent: "acme/shop", network: "bridge", labels, ...more });
const text = async (path: string) => {
  const r = await fetch(`${t.url}${path}`);
  return { status: r.status, type: r.headers.get("content-type") ?? "", body: await r.text() };
};
const sample = (body: string, name: string, match: string) => {
  const line = body.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(match));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
};

test("GET /v1/metrics: CPU, memory, limit, pids, OOM kills and network bytes per app container, labelled", { timeout: 60_000 }, async () => {
  // Serves its own metrics on 8080 (busybox httpd), and burns a little CPU.
  const web = await t.client.createContainer(
    spec("mkdir -p /www && printf 'shop_orders_total 42\\n' > /www/metrics && httpd -f -p 8080 -h /www & i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; wait", {
      labels: { ...labels, "paas.metrics": "8080/metrics" },
    }),
  );
  await t.client.start(web.id);
  const build = await t.client.createContainer(spec("sleep 60", { labels: { "paas.app": "shop", "paas.build": "b1" }, name: "a-build" }));
  await t.client.start(build.id);
  const m = await text("/v1/metrics");
  assert.equal(m.status, 200);
  assert.match(m.type, /^text\/plain; version=0\.0\.4/);
  const sel = `container="${web.name}"`;
  assert.match(m.body, new RegExp(`^paas_container_memory_bytes\\{app="shop",process="web",replica="1",release="v3",container="${web.name}",team="acme"\\} \\d+$`, "m"));
  assert.ok(sample(m.body, "paas_container_memory_bytes", sel)! > 0);
  assert.equal(sample(m.body, "paas_container_memory_limit_bytes", sel), 32 << 20);
  assert.ok(sample(m.body, "paas_container_pids", sel)! >= 1);
  assert.equal(sample(m.body, "paas_container_oom_kills_total", sel), 0);
  assert.notEqual(sample(m.body, "paas_container_network_receive_bytes_total", sel), undefined);
  assert.match(m.body, /^# TYPE paas_container_cpu_seconds_total counter$/m);
  assert.doesNotMatch(m.body, /a-build/, "builds are not app containers");

  // Prometheus's http_sd: the container with metrics, reached through this agent.
  const targets = (await (await fetch(`${t.url}/v1/metrics/targets`)).json()) as { targets: string[]; labels: Record<string, string> }[];
  assert.deepEqual(targets, [{ targets: [new URL(t.url).host], labels: { app: "shop", process: "web", replica: "1", release: "v3", container: web.name, team: "acme", __metrics_path__: `/v1/containers/${web.id}/metrics` } }]);
  let own = { status: 0, type: "", body: "" };
  await until("the app's metrics through the agent", async () => (own = await text(`/v1/containers/${web.id}/metrics`)).status === 200, 10_000);
  assert.equal(own.body, "shop_orders_total 42\n");
  const rx = sample((await text("/v1/metrics")).body, "paas_container_network_receive_bytes_total", sel)!;
  assert.ok(rx > 0, "the scrape's bytes reached the container's veth");
  // One without the label serves nothing through the agent.
  const none = await text(`/v1/containers/${build.id}/metrics`);
  assert.equal(none.status, 404);
  assert.match(none.body, /serves no metrics/);
});

test("an OOM kill is counted", { timeout: 60_000 }, async () => {
  // tail keeps a line that never ends in memory: 100 MB of zeros against a 32 MB limit.
  const c = await t.client.createContainer(spec("head -c 100000000 /dev/zero | tail; sleep 60", { labels: { ...labels, "paas.replica": "2" } }));
  await t.client.start(c.id);
  await until("the OOM kill in /v1/metrics", async () => (sample((await text("/v1/metrics")).body, "paas_container_oom_kills_total", `container="${c.name}"`) ?? 0) >= 1, 30_000);
});
