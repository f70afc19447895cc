/** The host's package indexes for builds: npm's and pip's config as they find it, overrides, binds, secrets kept out of files. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { parseConfigParser, readPackageIndexes } from "./package-indexes.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "paas-indexes-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(rel: string, text: string) {
  const p = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
  return p;
}

test("npm: builtin, global and user npmrc then npm_config_* env, PAAS_NPM_REGISTRY over all; keys env vars cannot carry go by reference", () => {
  const prefix = path.join(tmp, "npm-prefix");
  write("npm-prefix/lib/node_modules/npm/npmrc", "registry=https://builtin.example/\nfund=false\n");
  write("npm-prefix/etc/npmrc", `cafile=${write("ca.pem", "PEM")}\nregistry=https://global.example/\n`);
  write(
    "home/.npmrc",
    ["@acme:registry=https://npm.acme.example/", "//npm.acme.example/:_authToken=${ACME_TOKEN}", "proxy=http://bob:hunter22@proxy.example:3128/", "color=false"].join("\n"),
  );
  const env = { PIP_CONFIG_FILE: "/dev/null", ACME_TOKEN: "s3cr3t-token", npm_config_strict_ssl: "false", PAAS_NPM_REGISTRY: "https://mirror.example/npm/" };
  const ix = readPackageIndexes({ env, home: path.join(tmp, "home"), npmPrefix: prefix, etc: path.join(tmp, "no-etc") });
  assert.equal(ix.env.npm_config_registry, "https://mirror.example/npm/");
  assert.equal(ix.env.npm_config_cafile, path.join(tmp, "ca.pem"));
  assert.equal(ix.env.npm_config_strict_ssl, "false");
  assert.equal(ix.env.npm_config_proxy, "http://bob:hunter22@proxy.example:3128/");
  assert.equal(ix.env.npm_config_color, undefined, "only settings about where packages come from");
  assert.equal(ix.env.npm_config_fund, undefined);
  assert.deepEqual(ix.npmrc?.split("\n").filter(Boolean), ["@acme:registry=${PAAS_NPM_0}", "//npm.acme.example/:_authToken=${PAAS_NPM_1}"]);
  assert.equal(ix.env.PAAS_NPM_1, "s3cr3t-token", "the token is in the step's env only");
  assert.equal(ix.env.NPM_CONFIG_USERCONFIG, "/tmp/paas-indexes/npmrc");
  assert.ok(ix.secrets.includes("s3cr3t-token") && ix.secrets.includes("http://bob:hunter22@proxy.example:3128/"), JSON.stringify(ix.secrets));
  assert.deepEqual(ix.binds, [{ source: path.join(tmp, "ca.pem"), target: path.join(tmp, "ca.pem"), readOnly: true }]);
});

test("pip: XDG and /etc files, the user's, PIP_CONFIG_FILE, [global] then [install], PIP_* env; local indexes bound read-only", () => {
  const repo = path.join(tmp, "pypi");
  fs.mkdirSync(path.join(repo, "simple"), { recursive: true });
  fs.mkdirSync(path.join(repo, "files"));
  const wheels = path.join(tmp, "wheels");
  fs.mkdirSync(path.join(wheels, "sub"), { recursive: true });
  const constraints = write("constraints.txt", "flask<4\n");
  write("xdg/pip/pip.conf", `[global]\nextra-index-url =\n    file://${repo}/simple\n    https://other.example/simple\ntimeout = 10\n\n[install]\nfind-links = ${wheels}\n`);
  write("etc/pip.conf", `[global]\nconstraint = ${constraints}\ncert = ${path.join(tmp, "missing.pem")}\n`);
  write("home2/.config/pip/pip.conf", `[global]\ntrusted_host = other.example\n[freeze]\ntimeout = 99\n`);
  const env = { XDG_CONFIG_DIRS: path.join(tmp, "xdg"), PIP_DEFAULT_TIMEOUT: "60", PIP_FIND_LINKS: `${wheels} ${path.join(wheels, "sub")}`, PAAS_PIP_INDEX_URL: "https://u:pa55word@pypi.example/simple" };
  const ix = readPackageIndexes({ env, home: path.join(tmp, "home2"), npmPrefix: path.join(tmp, "none"), etc: path.join(tmp, "etc") });
  assert.equal(ix.env.PIP_EXTRA_INDEX_URL, `file://${repo}/simple https://other.example/simple`);
  assert.equal(ix.env.PIP_TIMEOUT, "60", "PIP_DEFAULT_TIMEOUT is pip's timeout, and env beats files");
  assert.equal(ix.env.PIP_TRUSTED_HOST, "other.example");
  assert.equal(ix.env.PIP_CONSTRAINT, constraints);
  assert.equal(ix.env.PIP_INDEX_URL, "https://u:pa55word@pypi.example/simple");
  assert.ok(ix.secrets.includes("pa55word"));
  // the repository root (its pages link to ../../files), the wheels dir (sub is inside it), the constraints file; nothing missing
  assert.deepEqual(
    ix.binds.map((b) => b.source).sort(),
    [repo, wheels, constraints].sort(),
  );
  assert.ok(ix.binds.every((b) => b.readOnly && b.source === b.target));
  assert.equal(ix.npmrc, undefined);

  const none = readPackageIndexes({ env: { PIP_CONFIG_FILE: "/dev/null", XDG_CONFIG_DIRS: path.join(tmp, "xdg") }, home: path.join(tmp, "home2"), npmPrefix: path.join(tmp, "none"), etc: path.join(tmp, "etc") });
  assert.deepEqual(none.env, {}, "PIP_CONFIG_FILE=/dev/null: no config files, as pip does");
});

test("configparser: continuation lines, both separators, comments", () => {
  const s = parseConfigParser("# c\n[global]\nA_Key: 1\n; x\nlist =\n  a\n  b\n[install]\nk=v\n");
  assert.deepEqual([...s.get("global")!], [["a_key", "1"], ["list", "a\nb"]]);
  assert.deepEqual([...s.get("install")!], [["k", "v"]]);
});
