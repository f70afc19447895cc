import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import { caSigned, encrypted, selfSigned } from "../../../tests/helpers/certs.ts";
import { CertificateError, checkCertificate, domainCertFile, readDomainCert, removeDomainCert, sha256, writeDomainCert } from "./tls.ts";

const www = selfSigned(["www.example.com", "example.com"]);
const other = selfSigned(["www.example.com"]);

const refused = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof CertificateError, `a CertificateError, got ${err}`);
    assert.match(err.message, re);
    return true;
  });

test("a certificate and its key are accepted for the hosts it covers, stored as the chain then the key", () => {
  const c = checkCertificate(www.cert, www.key, ["www.example.com", "api.example.com", "example.com"]);
  assert.deepEqual(c.covers, ["www.example.com", "example.com"]);
  assert.deepEqual(c.names, ["www.example.com", "example.com"]);
  assert.match(c.issuer, /www\.example\.com \(self-signed\)/);
  assert.equal(c.sha256, sha256(c.pem));
  assert.ok(c.expiresAt.getTime() > Date.now() + 29 * 86400_000);
  assert.equal(new X509Certificate(c.pem).fingerprint256, new X509Certificate(www.cert).fingerprint256);
  assert.match(c.pem, /-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----/);
});

test("a chain in order is accepted; out of order it is refused", () => {
  const signed = caSigned(["shop.example.org"]);
  const ok = checkCertificate(signed.chain, signed.key, ["shop.example.org"]);
  assert.equal(ok.issuer, "Test CA");
  assert.equal((ok.pem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
  // The CA first: the key is not the first certificate's.
  refused(() => checkCertificate(signed.ca + signed.cert, signed.key, ["shop.example.org"]), /key does not match/);
  const unrelated = selfSigned(["Someone Else"]);
  refused(() => checkCertificate(signed.cert + unrelated.cert, signed.key, ["shop.example.org"]), /certificate 2 of the certificate file did not issue certificate 1: put the chain in order/);
});

test("a bad pair is refused with the reason", () => {
  refused(() => checkCertificate(www.cert, other.key, ["www.example.com"]), /the key does not match the certificate/);
  refused(() => checkCertificate(www.cert, www.key, ["api.example.com"]), /the certificate is for www\.example\.com, example\.com, which covers none of api\.example\.com/);
  refused(() => checkCertificate(www.cert, www.key, []), /covers none of the app's domains \(it has none\): add the domain first/);
  refused(() => checkCertificate(www.key, www.cert, ["www.example.com"]), /swapped/);
  refused(() => checkCertificate("hello", www.key, ["www.example.com"]), /holds no PEM certificate/);
  refused(() => checkCertificate(www.cert, "hello", ["www.example.com"]), /holds no PEM private key/);
  refused(() => checkCertificate(www.cert, encrypted(www.key), ["www.example.com"]), /encrypted with a passphrase/);
  const garbled = www.cert.replace(/\n[A-Za-z0-9+/]{20}/, "\nAAAAAAAAAAAAAAAAAAAA");
  refused(() => checkCertificate(garbled, www.key, ["www.example.com"]), /cannot be read|key does not match/);
});

test("an expired certificate, or one not valid yet, is refused", () => {
  const later = new Date(Date.now() + 31 * 86400_000);
  refused(() => checkCertificate(www.cert, www.key, ["www.example.com"], later), /the certificate expired on \d{4}-\d\d-\d\d: renew it/);
  const before = new Date(Date.now() - 86400_000);
  refused(() => checkCertificate(www.cert, www.key, ["www.example.com"], before), /not valid before/);
});

test("a wildcard certificate covers one level below its domain", () => {
  const wild = selfSigned(["*.example.net"]);
  assert.deepEqual(checkCertificate(wild.cert, wild.key, ["a.example.net", "example.net", "a.b.example.net"]).covers, ["a.example.net"]);
});

test("stored PEMs are readable by root only, and a host never makes a path", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-tls-test-"));
  try {
    writeDomainCert(dir, "www.example.com", "pem\n");
    const file = domainCertFile(dir, "www.example.com");
    assert.equal(file, path.join(dir, "domains", "www.example.com.pem"));
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(readDomainCert(dir, "www.example.com"), "pem\n");
    removeDomainCert(dir, "www.example.com");
    assert.equal(readDomainCert(dir, "www.example.com"), null);
    assert.throws(() => domainCertFile(dir, "../etc/passwd"), /not a host name/);
    assert.throws(() => domainCertFile(dir, "a/b"), /not a host name/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
