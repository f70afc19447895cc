/**
 * Network bandwidth of a container, shaped with a tbf qdisc on each end of its veth pair:
 *   - to the container: on the host side (`vp<id>`), the veth's egress;
 *   - from the container: on `eth0` inside its network namespace, eth0's egress. The
 *     container cannot lift it: Docker's default capabilities leave out CAP_NET_ADMIN.
 * Why not an ingress policer or an ifb device on the host side: this kernel has no act_police,
 * and an ifb is one more device to leak; a tbf on each end queues (so TCP runs smoothly at
 * the rate) and goes away with the veth pair and the namespace (network.ts's detach).
 *
 * Use:
 *   await limitBandwidth({ hostDev: "vp0123456789ab", netns: "paas-0123456789ab" }, 8000);   // kbit/s each way
 *   await bandwidthQdiscs("vp0123456789ab");               // ["tbf"] (tests)
 */
import { RuntimeError, run } from "../util.ts";

async function tc(args: string[]) {
  const r = await run("tc", args);
  if (r.code !== 0) throw new RuntimeError(`tc ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
  return r;
}

function tbf(kbit: number) {
  // Bucket: ~50 ms of traffic but at least a few full-size packets, or TCP stalls.
  const burstBytes = Math.max(16 * 1514, Math.round((kbit * 1000) / 8 / 20));
  return ["root", "tbf", "rate", `${kbit}kbit`, "burst", String(burstBytes), "latency", "200ms"];
}

/** Caps traffic through a container's veth pair at `kbit` kbit/s in each direction. */
export async function limitBandwidth(link: { hostDev: string; netns: string }, kbit: number) {
  if (!Number.isInteger(kbit) || kbit < 8) throw new RuntimeError(`a network rate must be a whole number of kbit/s, at least 8, got ${JSON.stringify(kbit)}`, 400);
  await tc(["qdisc", "replace", "dev", link.hostDev, ...tbf(kbit)]);
  await tc(["-n", link.netns, "qdisc", "replace", "dev", "eth0", ...tbf(kbit)]);
}

/** The qdisc kinds on `dev` ("tbf", "ingress"...), empty when it is gone. */
export async function bandwidthQdiscs(dev: string, netns?: string): Promise<string[]> {
  const r = await run("tc", [...(netns ? ["-n", netns] : []), "qdisc", "show", "dev", dev]);
  if (r.code !== 0) return [];
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ")[1])
    .filter((k): k is string => !!k && k !== "noqueue");
}
