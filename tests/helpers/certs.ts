/** Certificates for tests, made with Debian's openssl: self-signed ones, and CA-signed chains. */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface TestCert {
  cert: string;
  key: string;
}

function inTmp<T>(fn: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-test-cert-"));
  try {
    return fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

/** A self-signed certificate for `names` (the first is the CN), valid `days` from now. */
export function selfSigned(names: string[], days = 30): TestCert {
  return inTmp((dir) => {
    openssl(
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", String(days), "-subj", `/CN=${names[0]}`,
        "-addext", `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`, "-keyout", "key.pem", "-out", "cert.pem"],
      dir,
    );
    return { cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8"), key: fs.readFileSync(path.join(dir, "key.pem"), "utf8") };
  });
}

/** A CA, and a certificate for `names` it signed: `chain` is the leaf then the CA. */
export function caSigned(names: string[], days = 30): TestCert & { ca: string; chain: string } {
  const ca = selfSigned(["Test CA"], days + 1);
  return inTmp((dir) => {
    fs.writeFileSync(path.join(dir, "ca.pem"), ca.cert);
    fs.writeFileSync(path.join(dir, "ca.key"), ca.key);
    fs.writeFileSync(path.join(dir, "ext.cnf"), `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\n`);
    openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${names[0]}`, "-keyout", "key.pem", "-out", "req.csr"], dir);
    openssl(["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", String(days), "-extfile", "ext.cnf", "-out", "cert.pem"], dir);
    const cert = fs.readFileSync(path.join(dir, "cert.pem"), "utf8");
    return { cert, key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"), ca: ca.cert, chain: cert + ca.cert };
  });
}

/** The key, encrypted with a passphrase. */
export function encrypted(key: string): string {
  return inTmp((dir) => {
    fs.writeFileSync(path.join(dir, "key.pem"), key);
    return openssl(["pkey", "-in", "key.pem", "-aes256", "-passout", "pass:secret"], dir).toString();
  });
}
