/**
 * The dashboard's edge: which address a request came from, decided once, before Next.js sees it.
 *
 * Next's server keeps a client's own X-Forwarded-For and adds the peer only when there is none,
 * so anyone could name any address: in the audit log, to git, and to Better Auth's sign-in rate
 * limit (one key per address). preload.mjs, loaded with `node --import` (infra/run-service, the
 * tests' startWeb), sets X-Forwarded-For and X-Real-IP to the one client address: the peer, or,
 * when the peer is a trusted proxy, the right-most address of its X-Forwarded-For that is not
 * one (proxies append, so everything left of that could be made up).
 *
 * Trusted: loopback (the platform's own router on this host) and PAAS_TRUSTED_PROXIES, a comma
 * list of addresses and CIDRs (a load balancer of the operator's in front).
 */
import http from "node:http";
import net from "node:net";

/** "::ffff:10.0.0.1" -> "10.0.0.1": the dual-stack socket's form of an IPv4 peer. */
const plain = (addr) => (addr.startsWith("::ffff:") && net.isIPv4(addr.slice(7)) ? addr.slice(7) : addr);

/** A BlockList of loopback and the entries of `list`; throws naming a bad entry. */
export function trustedProxies(list = "") {
  const trusted = new net.BlockList();
  trusted.addSubnet("127.0.0.0", 8, "ipv4");
  trusted.addAddress("::1", "ipv6");
  for (const raw of list.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [addr, bits, extra] = raw.split("/");
    const family = net.isIPv4(addr) ? "ipv4" : net.isIPv6(addr) ? "ipv6" : null;
    const prefix = bits === undefined ? undefined : Number(bits);
    const max = family === "ipv4" ? 32 : 128;
    if (!family || extra !== undefined || (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= max)))
      throw new Error(`PAAS_TRUSTED_PROXIES: "${raw}" is not an address or a CIDR (e.g. 10.0.0.5 or 10.0.0.0/8)`);
    if (prefix === undefined) trusted.addAddress(addr, family);
    else trusted.addSubnet(addr, prefix, family);
  }
  return trusted;
}

const isTrusted = (trusted, addr) => {
  const a = plain(addr);
  const family = net.isIPv4(a) ? "ipv4" : net.isIPv6(a) ? "ipv6" : null;
  return family !== null && trusted.check(a, family);
};

/** The client's address from the socket's peer and the X-Forwarded-For it sent (string, array or none). */
export function clientAddress(peer, forwardedFor, trusted) {
  let client = plain(peer ?? "");
  if (!client || !isTrusted(trusted, client)) return client;
  const chain = [forwardedFor ?? []].flat().join(",").split(",").map((s) => s.trim()).filter(Boolean);
  for (let i = chain.length - 1; i >= 0; i--) {
    if (net.isIP(plain(chain[i])) === 0) break; // garbage: stop at the last address we could trust
    client = plain(chain[i]);
    if (!isTrusted(trusted, client)) break;
  }
  return client;
}

/** Every HTTP server of this process decides the address first (Next creates its own server). */
export function install(env = process.env) {
  const trusted = trustedProxies(env.PAAS_TRUSTED_PROXIES);
  const createServer = http.createServer;
  http.createServer = function (...args) {
    const server = createServer.apply(this, args);
    server.prependListener("request", (req) => {
      const addr = clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], trusted);
      req.headers["x-forwarded-for"] = addr;
      req.headers["x-real-ip"] = addr;
    });
    return server;
  };
}
