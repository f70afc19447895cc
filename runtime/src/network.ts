/**
 * Bridge networking: one bridge per runtime (config().bridge) with the gateway at the
 * subnet's first address, and per container a named netns, a veth pair (host side on
 * the bridge, `eth0` inside) and an address from an on-disk IPAM file.
 *
 * Use:
 *   const net = new BridgeNetwork(layout, { bridge: "paas0", subnet: "10.88.0.0/24" });
 *   await net.ensureHost();                    // bridge, ip_forward, NAT, FORWARD chain (idempotent)
 *   const a = await net.attach(id, { egress }); // netns + veth + address: one `ip -batch` call
 *   //   the helper joins a.netnsPath and sets a.cidr / a.gateway on eth0 itself (ioctls)
 *   await net.detach(id);                      // netns (and so the veth) gone, address freed
 *
 * Egress: traffic leaving the bridge for elsewhere goes through chain PAAS-<bridge>, which
 * DROPs link-local destinations (169.254.0.0/16: cloud metadata services) for everyone, then
 * ACCEPTs sources in ipset pe-<bridge> (the egress containers), then connections listed in
 * ipset pl-<bridge> (hash:ip,port,net: container address, protocol:port, destination net; a
 * container limited to listed destinations, with its DNS servers' port 53), and DROPs the
 * rest. NAT (MASQUERADE) for the subnet lets those out. None of this reaches the host itself:
 * what is addressed to any of the host's own addresses (any interface, 127.0.0.0/8 via the
 * gateway) is delivered through INPUT, where containers may only answer (below); IPv6 from
 * the bridge is dropped outright (containers have no IPv6 address of ours, and the host's
 * link-local one on the bridge would be a way in).
 *
 * Teams: a container's team is the first segment of its cgroupParent. Container-to-container
 * traffic on the bridge (bridged, seen by iptables through br_netfilter) goes through chain
 * PAASI-<bridge>: ACCEPT when source and destination are both in one team's ipset
 * pt-<bridge>-<hash of team>, else DROP. Containers may not open connections to the host
 * (INPUT from the bridge: only replies); the host (router, agent) connects to them freely.
 * A start costs one `ipset restore` (set memberships are netlink calls, no iptables run),
 * run by a second helper process at the same time as the `ip -batch` of the first, so it
 * adds next to nothing to the start; the first container of a team also creates its set
 * and its one iptables rule.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Layout } from "./paths.ts";
import { HelperServer } from "./helper.ts";
import { RuntimeError, aptInstall, readJson, run, runOk, withFileLock, writeJson } from "./util.ts";

export interface Attachment {
  ip: string;
  cidr: string;
  gateway: string;
  netnsName: string;
  netnsPath: string;
  egress: boolean;
}

/** A destination a container limited to listed ones may open connections to. */
export interface EgressAllowRule {
  /** IPv4 network, a.b.c.d/n. */
  cidr: string;
  port: number;
  protocol?: "tcp" | "udp";
}

interface IpamEntry {
  id: string;
  egress: boolean;
  team?: string;
  /** Limited egress: the `protocol:port,net` parts of its entries in the allow set. */
  allow?: string[];
}

interface Ipam {
  subnet: string;
  addresses: Record<string, IpamEntry>;
}

/** The nameservers a container's resolv.conf names (containerResolvConf), for a limited container's DNS. */
export function containerNameservers(): string[] {
  return containerResolvConf()
    .split("\n")
    .flatMap((l) => /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(l)?.[1] ?? []);
}

/** A limited container's entries (without its address): its rules, and DNS to its nameservers. */
export function allowEntries(rules: EgressAllowRule[], nameservers = containerNameservers()): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    // The set holds no /0: "anywhere" is its two halves.
    const nets = r.cidr.endsWith("/0") ? ["0.0.0.0/1", "128.0.0.0/1"] : [r.cidr];
    for (const net of nets) out.add(`${r.protocol ?? "tcp"}:${r.port},${net}`);
  }
  for (const ns of nameservers) for (const proto of ["udp", "tcp"]) out.add(`${proto}:53,${ns}/32`);
  return [...out];
}

function ipToInt(ip: string): number {
  const p = ip.split(".").map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new RuntimeError(`bad IPv4 address "${ip}"`);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}
function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function parseSubnet(subnet: string) {
  const [addr, bitsRaw] = subnet.split("/");
  const bits = Number(bitsRaw);
  if (!Number.isInteger(bits) || bits < 8 || bits > 30) throw new RuntimeError(`bad subnet "${subnet}": use a.b.c.d/8..30`);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  const network = ipToInt(addr) & mask;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  return { network: network >>> 0, broadcast, bits, gateway: intToIp(network + 1) };
}

/**
 * eth0's MAC, made from its address (locally administered, 02:50:a:b:c:d), as Docker does:
 * an address used again gets the same MAC, so the host's neighbour entry for it, left from
 * the container that had it before, is still right (a random MAC left it pointing at a gone
 * veth for ~8 s: the first health checks of a new replica went nowhere).
 */
export function macFor(ip: string): string {
  return ["02", "50", ...ip.split(".").map((b) => Number(b).toString(16).padStart(2, "0"))].join(":");
}

/** Whether `cmd` is an executable on PATH (without spawning it). */
function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin")
    .split(":")
    .some((d) => {
      try {
        fs.accessSync(path.join(d, cmd), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

export function netnsName(id: string) {
  return `paas-${id.slice(0, 12)}`;
}
export function vethName(id: string) {
  return `vp${id.slice(0, 12)}`;
}

/**
 * What a container's network namespace received and sent, from the host side of its veth
 * (what the host side sends, the container receives); nothing when it has no veth.
 */
export function readVethBytes(veth: string): { netRxBytes: number; netTxBytes: number } | Record<string, never> {
  try {
    const dir = `/sys/class/net/${veth}/statistics`;
    return { netRxBytes: Number(fs.readFileSync(`${dir}/tx_bytes`, "utf8")), netTxBytes: Number(fs.readFileSync(`${dir}/rx_bytes`, "utf8")) };
  } catch {
    return {};
  }
}

export class BridgeNetwork {
  readonly bridge: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly bits: number;
  readonly chain: string;
  /** Chain for container-to-container traffic on the bridge (team isolation). */
  readonly isoChain: string;
  readonly egressSet: string;
  /** hash:ip,port,net of limited containers' allowed destinations. */
  readonly allowSet: string;
  private readonly ipamFile: string;
  private readonly lockFile: string;
  /** A second forker, its own, for firewall commands: they run beside the `ip -batch` of a start. */
  private readonly firewall = new HelperServer();

  /** `helper` forks the `ip` and `ipset` commands (one per runtime, helper.ts). */
  constructor(
    layout: Layout,
    opts: { bridge: string; subnet: string },
    private readonly helper: HelperServer,
  ) {
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(opts.bridge)) throw new RuntimeError(`bad bridge name "${opts.bridge}" (at most 15 letters, digits, _ . -)`);
    this.bridge = opts.bridge;
    this.subnet = opts.subnet;
    const s = parseSubnet(opts.subnet);
    this.gateway = s.gateway;
    this.bits = s.bits;
    this.chain = `PAAS-${this.bridge}`.slice(0, 28);
    this.isoChain = `PAASI-${this.bridge}`;
    this.egressSet = `pe-${this.bridge}`;
    this.allowSet = `pl-${this.bridge}`;
    fs.mkdirSync(layout.net, { recursive: true });
    this.ipamFile = path.join(layout.net, `${this.bridge}.json`);
    this.lockFile = path.join(layout.net, `${this.bridge}.lock`);
  }

  private async ipt(args: string[]) {
    return run("iptables", ["-w", ...args]);
  }

  /** Adds the rule unless it is there (-C first). */
  private async iptEnsure(table: string, chain: string, rule: string[], insert = false) {
    if ((await this.ipt(["-t", table, "-C", chain, ...rule])).code === 0) return;
    const r = await this.ipt(["-t", table, insert ? "-I" : "-A", chain, ...(insert ? ["1"] : []), ...rule]);
    if (r.code !== 0) throw new RuntimeError(`iptables -t ${table} ${chain} ${rule.join(" ")}: ${r.stderr.trim()}`);
  }

  /**
   * Bridge up with the gateway address, forwarding on, NAT, the egress and team chains and
   * sets. Idempotent, and cheap when all is in place (every CLI call and agent start runs it):
   * the state is read once (`ip addr`, `iptables -S` of two tables) and one `ipset restore`
   * makes the sets; only what is missing is added, rule by rule.
   */
  async ensureHost() {
    const want = `${this.gateway}/${this.bits}`;
    if (!fs.existsSync(`/sys/class/net/${this.bridge}`)) {
      await run("ip", ["-force", "-batch", "-"], `link add ${this.bridge} type bridge\n`);
    }
    const addrs = await runOk("ip", ["-4", "-o", "addr", "show", "dev", this.bridge]);
    const up = (Number(fs.readFileSync(`/sys/class/net/${this.bridge}/flags`, "utf8")) & 1) === 1; // IFF_UP
    if (!up || !addrs.includes(` ${want} `)) {
      const batch = [`link set ${this.bridge} up`];
      if (!addrs.includes(` ${want} `)) batch.unshift(`addr add ${want} dev ${this.bridge}`);
      await runOk("ip", ["-batch", "-"], batch.join("\n") + "\n");
    }
    if (fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim() !== "1") fs.writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
    // The host's loopback addresses stay martians when they arrive from the bridge.
    const localnet = `/proc/sys/net/ipv4/conf/${this.bridge}/route_localnet`;
    if (fs.existsSync(localnet) && fs.readFileSync(localnet, "utf8").trim() !== "0") fs.writeFileSync(localnet, "0");
    for (const tool of ["iptables", "ipset"]) if (!onPath(tool)) await aptInstall([tool], `${tool} is missing`);
    await this.ensureBridgeNetfilter();

    // Sets: the egress set, each team's, and the members of containers whose records
    // survived a reboot (or a flush), in one go.
    const ipam = this.readIpam();
    const teams = new Set(Object.values(ipam.addresses).flatMap((a) => (a.team !== undefined ? [a.team] : [])));
    const sets = [`create ${this.egressSet} hash:ip -exist`, `create ${this.allowSet} hash:ip,port,net -exist`, ...[...teams].map((t) => `create ${this.teamSet(t)} hash:ip -exist`)];
    for (const [ip, a] of Object.entries(ipam.addresses)) {
      if (a.egress) sets.push(`add ${this.egressSet} ${ip} -exist`);
      for (const e of a.allow ?? []) sets.push(`add ${this.allowSet} ${ip},${e} -exist`);
      if (a.team !== undefined) sets.push(`add ${this.teamSet(a.team)} ${ip} -exist`);
    }
    await runOk("ipset", ["restore", "-exist"], sets.join("\n") + "\n");

    const [filter, nat] = await Promise.all([this.ipt(["-t", "filter", "-S"]), this.ipt(["-t", "nat", "-S", "POSTROUTING"])]);
    const present = new Set([...filter.stdout.split("\n"), ...nat.stdout.split("\n")]);
    /** Adds the rule unless `iptables -S` showed it (a rule printed otherwise is checked with -C). */
    const ensure = async (table: string, chain: string, rule: string[], insert = false) => {
      if (!present.has(`-A ${chain} ${rule.join(" ")}`)) await this.iptEnsure(table, chain, rule, insert);
    };
    await ensure("nat", "POSTROUTING", ["-s", this.subnet, "!", "-o", this.bridge, "-j", "MASQUERADE"]);
    for (const chain of [this.chain, this.isoChain]) {
      if (!present.has(`-N ${chain}`) && (await this.ipt(["-t", "filter", "-L", chain, "-n"])).code !== 0) await this.ipt(["-t", "filter", "-N", chain]);
      await ensure("filter", chain, ["-j", "DROP"]);
    }
    await ensure("filter", this.chain, ["-m", "set", "--match-set", this.egressSet, "src", "-j", "ACCEPT"], true);
    await ensure("filter", this.chain, ["-m", "set", "--match-set", this.allowSet, "src,dst,dst", "-j", "ACCEPT"], true);
    // First of all: link-local destinations (a cloud's metadata service) are nobody's way out.
    await ensure("filter", this.chain, ["-d", "169.254.0.0/16", "-j", "DROP"], true);
    // Per-address ACCEPTs of the runtime before egress moved to the set: nothing removes
    // them any more, and a later container on a reused address would inherit egress.
    const legacy = filter.stdout.split("\n").filter((l) => l.startsWith(`-A ${this.chain} -s `) && /^-A \S+ -s [\d.]+\/32 -j ACCEPT$/.test(l));
    for (const l of legacy) await this.ipt(["-t", "filter", "-D", ...l.split(" ").slice(1)]);
    // Container to container (bridged): teams only; before the replies' ACCEPT below, so
    // the ESTABLISHED rule is the first one a packet meets.
    await ensure("filter", "FORWARD", ["-i", this.bridge, "-o", this.bridge, "-j", this.isoChain], true);
    await ensure("filter", "FORWARD", ["-i", this.bridge, "!", "-o", this.bridge, "-j", this.chain], true);
    // Containers may not open connections to the host itself (its loopback services, the
    // agent, databases on 0.0.0.0); replies to the host's own connections come in.
    await ensure("filter", "INPUT", ["-i", this.bridge, "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED", "-j", "DROP"], true);
    // Replies to connections made from outside (or allowed out) come back in.
    await ensure("filter", "FORWARD", ["-o", this.bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"], true);
    for (const t of teams) await ensure("filter", this.isoChain, this.teamRule(t), true);
    await this.ensureNoIpv6();
  }

  /** IPv6 from the bridge goes nowhere: not to the host (its link-local address), not beyond. */
  private async ensureNoIpv6() {
    if (!onPath("ip6tables") || !fs.existsSync("/proc/net/if_inet6")) return;
    const present = new Set((await run("ip6tables", ["-w", "-S"])).stdout.split("\n"));
    for (const chain of ["INPUT", "FORWARD"]) {
      const rule = ["-i", this.bridge, "-j", "DROP"];
      if (present.has(`-A ${chain} ${rule.join(" ")}`)) continue;
      const r = await run("ip6tables", ["-w", "-I", chain, "1", ...rule]);
      if (r.code !== 0) throw new RuntimeError(`ip6tables ${chain} ${rule.join(" ")}: ${r.stderr.trim()}`);
    }
  }

  /** iptables must see bridged frames, or same-bridge traffic bypasses FORWARD entirely. */
  private async ensureBridgeNetfilter() {
    const knob = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    if (!fs.existsSync(knob)) await run("modprobe", ["br_netfilter"]).catch(() => undefined);
    try {
      if (fs.readFileSync(knob, "utf8").trim() !== "1") fs.writeFileSync(knob, "1");
    } catch (err) {
      throw new RuntimeError(`cannot turn on ${knob} (${(err as Error).message}): teams could reach each other's containers; load br_netfilter (modprobe br_netfilter) and retry`);
    }
  }

  /** ipset of a team's addresses on this bridge (name <= 31 chars, any team name). */
  teamSet(team: string): string {
    return `pt-${this.bridge}-${crypto.createHash("sha256").update(team).digest("hex").slice(0, 8)}`;
  }

  /** The team's set and its one ACCEPT rule (source and destination both in it). Idempotent. */
  private async ensureTeam(team: string) {
    await runOk("ipset", ["create", this.teamSet(team), "hash:ip", "-exist"]);
    await this.iptEnsure("filter", this.isoChain, this.teamRule(team), true);
  }

  /** The isolation chain's ACCEPT for one team: source and destination both in its set. */
  private teamRule(team: string): string[] {
    const set = this.teamSet(team);
    return ["-m", "set", "--match-set", set, "src", "-m", "set", "--match-set", set, "dst", "-j", "ACCEPT"];
  }

  /** Undoes ensureHost (tests; an operator's clean-up). */
  /** Its firewall forker exits (the host's bridge and rules stay: teardownHost removes them). */
  close() {
    this.firewall.close();
  }

  async teardownHost() {
    await run("ip", ["link", "del", this.bridge]);
    await this.ipt(["-t", "nat", "-D", "POSTROUTING", "-s", this.subnet, "!", "-o", this.bridge, "-j", "MASQUERADE"]);
    await this.ipt(["-t", "filter", "-D", "FORWARD", "-i", this.bridge, "!", "-o", this.bridge, "-j", this.chain]);
    await this.ipt(["-t", "filter", "-D", "FORWARD", "-o", this.bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"]);
    await this.ipt(["-t", "filter", "-D", "FORWARD", "-i", this.bridge, "-o", this.bridge, "-j", this.isoChain]);
    await this.ipt(["-t", "filter", "-D", "INPUT", "-i", this.bridge, "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED", "-j", "DROP"]);
    if (onPath("ip6tables")) for (const chain of ["INPUT", "FORWARD"]) await run("ip6tables", ["-w", "-D", chain, "-i", this.bridge, "-j", "DROP"]);
    for (const chain of [this.chain, this.isoChain]) {
      await this.ipt(["-t", "filter", "-F", chain]);
      await this.ipt(["-t", "filter", "-X", chain]);
    }
    // Sets go once no rule refers to them.
    const sets = (await run("ipset", ["list", "-n"]).catch(() => ({ stdout: "" }))).stdout.split("\n");
    for (const set of sets) if (set === this.egressSet || set === this.allowSet || set.startsWith(`pt-${this.bridge}-`)) await run("ipset", ["destroy", set]);
  }

  private readIpam(): Ipam {
    const ipam = readJson<Ipam>(this.ipamFile);
    return ipam && ipam.subnet === this.subnet ? ipam : { subnet: this.subnet, addresses: {} };
  }

  /** Allocates the lowest free address (gateway and broadcast excluded). */
  allocate(id: string, egress: boolean, team?: string, allow?: string[]): string {
    return withFileLock(this.lockFile, () => {
      const ipam = this.readIpam();
      const existing = Object.entries(ipam.addresses).find(([, a]) => a.id === id);
      if (existing) return existing[0];
      const s = parseSubnet(this.subnet);
      for (let n = s.network + 2; n < s.broadcast; n++) {
        const ip = intToIp(n);
        if (!ipam.addresses[ip]) {
          ipam.addresses[ip] = { id, egress, ...(team === undefined ? {} : { team }), ...(allow?.length ? { allow } : {}) };
          writeJson(this.ipamFile, ipam);
          return ip;
        }
      }
      throw new RuntimeError(`no free address left in ${this.subnet}; remove stopped containers`, 503);
    });
  }

  release(id: string): string | undefined {
    return withFileLock(this.lockFile, () => {
      const ipam = this.readIpam();
      const entry = Object.entries(ipam.addresses).find(([, a]) => a.id === id);
      if (!entry) return undefined;
      delete ipam.addresses[entry[0]];
      writeJson(this.ipamFile, ipam);
      return entry[0];
    });
  }

  /**
   * Frees the addresses (and namespaces) of containers that are gone, as an agent that died
   * between a container's removal and its detach left them. `keep(id)`: the container still
   * exists, or its namespace is held for pod members.
   */
  async sweep(keep: (id: string) => boolean) {
    for (const a of Object.values(this.readIpam().addresses)) if (!keep(a.id)) await this.detach(a.id);
  }

  addressOf(id: string): string | undefined {
    return Object.entries(this.readIpam().addresses).find(([, a]) => a.id === id)?.[0];
  }

  /** `team`: containers of one team reach each other; without one, a container reaches no other. */
  /**
   * `egressAllow` (with egress false): the only destinations it may open connections to, and
   * its DNS servers (allowEntries).
   */
  async attach(id: string, opts: { egress: boolean; team?: string; egressAllow?: EgressAllowRule[] }): Promise<Attachment> {
    const allow = !opts.egress && opts.egressAllow?.length ? allowEntries(opts.egressAllow) : [];
    const ip = this.allocate(id, opts.egress, opts.team, allow);
    const ns = netnsName(id);
    const veth = vethName(id);
    // Leftovers of an earlier start of this container go first.
    const pre = fs.existsSync(`/run/netns/${ns}`) ? `netns del ${ns}\n` : "";
    const h = this.helper;
    // Memberships first or at the same time, never after: the container must not run
    // before its teammates can reach it (dropped SYNs cost a 1 s retransmit).
    const sets = [...(opts.egress ? [this.egressSet] : []), ...allow.map((e) => `${this.allowSet} ${ip},${e}`), ...(opts.team !== undefined ? [this.teamSet(opts.team)] : [])];
    const joined = sets.length ? this.joinSets(ip, sets, opts.team) : Promise.resolve({ code: 0, output: "" });
    const r = await h.exec(
      "ip",
      ["-batch", "-"],
      `${pre}netns add ${ns}\nlink add ${veth} type veth peer name eth0 address ${macFor(ip)} netns ${ns}\nlink set ${veth} master ${this.bridge} up\n`,
    );
    const e = await joined;
    if (e.code !== 0) r.output += e.output;
    r.code ||= e.code;
    if (r.code !== 0) {
      await this.detach(id);
      throw new RuntimeError(`cannot set up the network of container ${id}: ${r.output.trim()}`);
    }
    return { ip, cidr: `${ip}/${this.bits}`, gateway: this.gateway, netnsName: ns, netnsPath: `/run/netns/${ns}`, egress: opts.egress };
  }

  /** One exec for every membership; a team's first container creates its set and rule. */
  private async joinSets(ip: string, sets: string[], team: string | undefined): Promise<{ code: number; output: string }> {
    const fw = this.firewall;
    // An allow set's entry comes whole ("<set> <ip>,<proto:port>,<net>"); the others take the address.
    const input = sets.map((s) => (s.includes(" ") ? `add ${s}\n` : `add ${s} ${ip}\n`)).join("");
    const e = await fw.exec("ipset", ["restore", "-exist"], input);
    if (e.code === 0 || team === undefined) return e;
    try {
      await this.ensureTeam(team);
    } catch (err) {
      return { code: 1, output: (err as Error).message };
    }
    return fw.exec("ipset", ["restore", "-exist"], input);
  }

  /** Removes netns, veth and set memberships, and frees the address. Safe to call twice. */
  async detach(id: string) {
    const ns = netnsName(id);
    const h = this.helper;
    const batch = [
      fs.existsSync(`/run/netns/${ns}`) ? `netns del ${ns}` : "",
      fs.existsSync(`/sys/class/net/${vethName(id)}`) ? `link del ${vethName(id)}` : "",
    ].filter(Boolean);
    if (batch.length) await h.exec("ip", ["-force", "-batch", "-"], batch.join("\n") + "\n");
    const entry = Object.entries(this.readIpam().addresses).find(([, a]) => a.id === id);
    // no address (network none, or released already): no lock to take, no file to write
    if (!entry) return;
    const [ip, a] = entry;
    const sets = [...(a.egress ? [this.egressSet] : []), ...(a.allow ?? []).map((e) => `${this.allowSet} ${ip},${e}`), ...(a.team !== undefined ? [this.teamSet(a.team)] : [])];
    if (sets.length) await h.exec("ipset", ["restore", "-exist"], sets.map((s) => (s.includes(" ") ? `del ${s}\n` : `del ${s} ${ip}\n`)).join(""));
    this.release(id);
  }
}

/** The host's resolver config for containers: loopback nameservers are unreachable from a netns. */
export function containerResolvConf(): string {
  let text = "";
  try {
    text = fs.readFileSync("/etc/resolv.conf", "utf8");
  } catch {}
  // With only loopback resolvers on the host, containers get none: better no DNS than
  // queries sent to a public resolver nobody chose.
  const lines = text.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1)/.test(l));
  return lines.join("\n").trim() + "\n";
}
