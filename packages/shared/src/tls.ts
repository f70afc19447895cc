/**
 * Certificates for the router's TLS port: checking the certificate and key someone uploads for
 * their custom domains (certs:add) and the files the router serves them from. The API checks
 * them and stores the PEM in Redis under its sha256 (redis-keys.ts certKey); the route names
 * that sha256 (RouteEntry.cert), and each router fetches it, checks it, and writes its own copy.
 *
 * Files, all the router's (mode 700 directories): `default.pem` in config().tlsDir, its
 * self-signed certificate for `*.<PAAS_DOMAIN>`; `domains/<host>.pem` in a directory of its own
 * (apps/router/src/tls.ts), a domain's certificate chain then its key (the form HAProxy loads),
 * mode 600: readable by root only. Keys are never in the database. Earlier versions had the
 * API write `domains/<host>.pem` into config().tlsDir; prisma/domains.ts moves those to Redis.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const defaultCertFile = (tlsDir: string) => path.join(tlsDir, "default.pem");

export function domainCertFile(tlsDir: string, host: string): string {
  // Host names are checked (naming.ts) before they get here; a path must never come of one.
  if (!/^[a-z0-9.-]+$/.test(host) || host.startsWith(".")) throw new Error(`not a host name: ${JSON.stringify(host)}`);
  return path.join(tlsDir, "domains", `${host}.pem`);
}

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Writes a domain's PEM (chain and key) readable by root only, renamed into place whole. */
export function writeDomainCert(tlsDir: string, host: string, pem: string): void {
  const file = domainCertFile(tlsDir, host);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.chmodSync(tlsDir, 0o700);
  fs.chmodSync(path.dirname(file), 0o700);
  const tmp = `${file}.${process.pid}.new`;
  fs.writeFileSync(tmp, pem, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600); // whatever the umask
  fs.renameSync(tmp, file);
}

/** A domain's stored PEM, or null when it has none. */
export function readDomainCert(tlsDir: string, host: string): string | null {
  try {
    return fs.readFileSync(domainCertFile(tlsDir, host), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

export function removeDomainCert(tlsDir: string, host: string): void {
  fs.rmSync(domainCertFile(tlsDir, host), { force: true });
}

/** Why a certificate and key were refused; the message says what is wrong and what to do. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertificateError";
  }
}

export interface CheckedCertificate {
  /** The certificate chain then the key (PKCS#8), as stored and loaded by the router. */
  pem: string;
  sha256: string;
  /** The host names the certificate is for (its DNS subject alternative names, else its CN). */
  names: string[];
  /** Of the hosts asked about, those the certificate covers. */
  covers: string[];
  expiresAt: Date;
  issuer: string;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

/** The names a certificate is for. */
function namesOf(cert: X509Certificate): string[] {
  const san = (cert.subjectAltName ?? "")
    .split(/,\s*/)
    .filter((s) => s.startsWith("DNS:"))
    .map((s) => s.slice(4));
  if (san.length) return san;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [cn] : [];
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Checks a certificate (PEM, the domain's first, then any intermediates) and its key against
 * `hosts` (the domains it is for) at `now`: both readable, the key the certificate's own, the
 * chain in order, valid now, covering at least one of `hosts`. Throws CertificateError naming
 * what is wrong; otherwise returns what to store.
 */
export function checkCertificate(certPem: string, keyPem: string, hosts: string[], now = new Date()): CheckedCertificate {
  const blocks = certPem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new CertificateError(
      KEY_BLOCK.test(certPem) && (keyPem.match(CERT_BLOCK) ?? []).length
        ? "the certificate and key files are swapped: give the certificate file first, then the key"
        : "the certificate file holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the certificate file first, then the key",
    );
  }
  const chain = blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new CertificateError(`certificate ${i + 1} of the certificate file cannot be read (${(err as Error).message}): give the PEM file your certificate authority issued`);
    }
  });
  const keyMatch = KEY_BLOCK.exec(keyPem);
  if (!keyMatch) throw new CertificateError("the key file holds no PEM private key (-----BEGIN PRIVATE KEY-----): give the certificate's private key as the second file");
  if (keyMatch[1] === "ENCRYPTED PRIVATE KEY" || /Proc-Type: 4,ENCRYPTED/.test(keyMatch[0])) {
    throw new CertificateError("the key is encrypted with a passphrase: give it unencrypted (openssl pkey -in KEY -out key.pem asks for the passphrase once)");
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyMatch[0]);
  } catch (err) {
    throw new CertificateError(`the key cannot be read (${(err as Error).message}): give the certificate's private key in PEM form`);
  }
  const leaf = chain[0];
  if (!leaf.checkPrivateKey(key)) {
    throw new CertificateError("the key does not match the certificate (it is the key of another certificate): give the key this certificate was made for");
  }
  for (let i = 1; i < chain.length; i++) {
    if (!chain[i - 1].checkIssued(chain[i])) {
      throw new CertificateError(`certificate ${i + 1} of the certificate file did not issue certificate ${i}: put the chain in order, the domain's certificate first, then each issuer`);
    }
  }
  const validFrom = new Date(leaf.validFrom);
  const expiresAt = new Date(leaf.validTo);
  if (expiresAt <= now) throw new CertificateError(`the certificate expired on ${day(expiresAt)}: renew it and add the new one`);
  if (validFrom > now) throw new CertificateError(`the certificate is not valid before ${day(validFrom)}: add it from then, or check this machine's clock`);
  const names = namesOf(leaf);
  const covers = hosts.filter((h) => leaf.checkHost(h) !== undefined);
  if (covers.length === 0) {
    throw new CertificateError(
      `the certificate is for ${names.join(", ") || "no host name"}, which covers none of ${hosts.length ? hosts.join(", ") : "the app's domains (it has none)"}: ` +
        (hosts.length ? "give a certificate for one of them" : "add the domain first with `paas domains:add HOST`"),
    );
  }
  const pem = `${blocks.join("\n")}\n${key.export({ type: "pkcs8", format: "pem" }).toString()}`;
  const issuer = /(?:^|\n)CN=([^\n]+)/.exec(leaf.issuer)?.[1] ?? leaf.issuer.replace(/\n/g, ", ");
  return { pem, sha256: sha256(pem), names, covers, expiresAt, issuer: leaf.issuer === leaf.subject ? `${issuer} (self-signed)` : issuer };
}
