/**
 * The router's certificates. A default one for *.<domain> and <domain> (self-signed, made with
 * Debian's openssl on the router's first start, and again when PAAS_DOMAIN changed or it is
 * about to expire), which HAProxy serves to any SNI without a certificate of its own; and the
 * custom domains' certificates, which the control plane publishes per host (RouteEntry.cert:
 * the sha256 of the domain's PEM, stored in Redis under certKey(sha256)). The router fetches a
 * PEM it has not loaded, checks its sha256 and writes its own copy, readable by root only, into
 * a directory of its own (HAProxy loads certificates from files). data-plane.ts keeps HAProxy
 * serving them; this module says what to load and how, through HAProxy's runtime API (no reload):
 *   new:     new ssl cert F; set ssl cert F <<PEM; commit ssl cert F; add ssl crt-list L <<"F host"
 *   renewed: set ssl cert F <<PEM; commit ssl cert F
 *   gone:    del ssl crt-list L F; del ssl cert F
 * and writes the crt-list file (L), which a reload or a restart loads from.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { defaultCertFile, domainCertFile, removeDomainCert, sha256, writeDomainCert } from "@paas/shared/tls";

const run = promisify(execFile);

/** The default certificate is made again this long before it expires. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/** Whether `pem` is a usable default certificate for `domain`: it covers *.<domain> and <domain>, and is not about to expire. */
function fitsDomain(pem: string, domain: string, now = Date.now()): boolean {
  try {
    const cert = new X509Certificate(pem);
    return cert.checkHost(domain) !== undefined && cert.checkHost(`app.${domain}`) !== undefined && new Date(cert.validTo).getTime() - now > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

/**
 * Makes the default certificate (an EC P-256 key, 825 days: the longest that clients accept)
 * unless the one in `tlsDir` still fits `domain`. Returns its file.
 */
export async function ensureDefaultCert(tlsDir: string, domain: string): Promise<string> {
  const file = defaultCertFile(tlsDir);
  if (fs.existsSync(file) && fitsDomain(fs.readFileSync(file, "utf8"), domain)) return file;
  fs.mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(tlsDir, 0o700);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "paas-cert-"));
  try {
    const [key, cert] = [path.join(tmp, "key.pem"), path.join(tmp, "cert.pem")];
    try {
      await run("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "825",
        "-subj", `/O=paas/CN=*.${domain}`, "-addext", `subjectAltName=DNS:*.${domain},DNS:${domain}`,
        "-keyout", key, "-out", cert,
      ]);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      throw new Error(e.code === "ENOENT" ? "openssl is not installed: ./infra/setup installs Debian's" : `openssl could not make the default certificate: ${e.stderr?.trim() || e.message}`);
    }
    fs.writeFileSync(`${file}.new`, fs.readFileSync(cert, "utf8") + fs.readFileSync(key, "utf8"), { mode: 0o600 });
    fs.renameSync(`${file}.new`, file);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`router: made a self-signed default certificate for *.${domain} and ${domain} (${file})`);
  return file;
}

/** A certificate HAProxy serves: its host (the SNI), file and contents as checked. */
export interface LoadedCert {
  host: string;
  file: string;
  sha256: string;
  pem: string;
}

/** Where the PEMs come from: the control plane's store (Redis), by sha256; null when it has none. */
export type FetchCert = (sha256: string) => Promise<string | null>;

/** The certificates to serve, and the hosts that wait for theirs (not in the store yet, or not what was published). */
export interface CertsPlan {
  next: Map<string, LoadedCert>;
  waiting: Map<string, string>;
}

/**
 * The certificates to serve for `wanted` (host -> sha256 as published), from `dir` (the
 * router's own). One not loaded yet is fetched, checked against its sha256 and written there
 * (mode 600). One the store does not have (or not as published) keeps what is loaded for that
 * host, if anything, and waits: `said` (host -> sha) keeps that said once, not at each retry.
 */
export async function certsToLoad(dir: string, wanted: Map<string, string>, loaded: Map<string, LoadedCert>, fetch: FetchCert, said = new Map<string, string>()): Promise<CertsPlan> {
  const next = new Map<string, LoadedCert>();
  const waiting = new Map<string, string>();
  const fetched = new Map<string, string | null>();
  for (const [host, sha] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
    const have = loaded.get(host);
    if (have?.sha256 === sha) {
      next.set(host, have);
      continue;
    }
    if (!fetched.has(sha)) fetched.set(sha, await fetch(sha));
    const pem = fetched.get(sha)!;
    if (pem !== null && sha256(pem) === sha) {
      writeDomainCert(dir, host, pem);
      next.set(host, { host, file: domainCertFile(dir, host), sha256: sha, pem });
      said.delete(host);
      continue;
    }
    waiting.set(host, sha);
    if (have) next.set(host, have);
    if (said.get(host) !== sha) {
      said.set(host, sha);
      const why = pem === null ? "is not in Redis" : "in Redis does not match its sha256";
      console.error(`router: the certificate published for ${host} (sha256 ${sha.slice(0, 12)}) ${why}; ${have ? "it keeps the one it had" : "it gets the default one"} until it is (certs:add stores it)`);
    }
  }
  return { next, waiting };
}

/** Removes the router's copies of certificates it serves no more (after HAProxy let them go). */
export function dropCertFiles(dir: string, loaded: Map<string, LoadedCert>, next: Map<string, LoadedCert>): void {
  for (const host of loaded.keys()) if (!next.has(host)) removeDomainCert(dir, host);
}

/** crt-list: one `<file> <host>` line per certificate (the host is the only SNI it serves). */
export const renderCrtList = (certs: Map<string, LoadedCert>) => [...certs.values()].map((c) => `${c.file} ${c.host}\n`).join("");

/** A runtime API command and the answer that means it worked. */
export interface Step {
  cmd: string;
  ok: RegExp;
  /** Run when the step fails, before giving up (a transaction left open). */
  undo?: string;
}

// A payload ends at the first empty line: the PEM is sent without any.
const payload = (pem: string) => pem.split("\n").filter((l) => l.trim() !== "").join("\n");

/** Runtime API steps from what HAProxy serves (`loaded`) to `next`; the removals run last. */
export function certSteps(crtList: string, loaded: Map<string, LoadedCert>, next: Map<string, LoadedCert>): { adds: Step[]; removes: Step[] } {
  const adds: Step[] = [];
  const removes: Step[] = [];
  const set = (c: LoadedCert): Step[] => [
    { cmd: `set ssl cert ${c.file} <<\n${payload(c.pem)}\n`, ok: /Transaction (created|updated)/, undo: `abort ssl cert ${c.file}` },
    { cmd: `commit ssl cert ${c.file}`, ok: /Success!/, undo: `abort ssl cert ${c.file}` },
  ];
  for (const c of next.values()) {
    const had = loaded.get(c.host);
    if (!had) {
      adds.push({ cmd: `new ssl cert ${c.file}`, ok: /New empty certificate store/ }, ...set(c), { cmd: `add ssl crt-list ${crtList} <<\n${c.file} ${c.host}\n`, ok: /Success!/ });
    } else if (had.sha256 !== c.sha256) {
      adds.push(...set(c));
    }
  }
  for (const c of loaded.values()) {
    if (next.has(c.host)) continue;
    removes.push({ cmd: `del ssl crt-list ${crtList} ${c.file}`, ok: /deleted/ }, { cmd: `del ssl cert ${c.file}`, ok: /deleted/ });
  }
  return { adds, removes };
}
