import assert from "node:assert/strict";
import { test } from "node:test";
import { APP_NAME_MAX, DNS_LABEL_MAX, PREVIEW_LABEL_MAX, appHostName, appName, branchLabel, newAppName, previewAppName, previewHostName } from "./naming.ts";

test("app names are DNS labels; the ones people choose have at most 30 characters", () => {
  for (const ok of ["hello", "my-app-2", "a".repeat(APP_NAME_MAX)]) assert.equal(newAppName.safeParse(ok).success, true, ok);
  for (const bad of ["", "a", "Hello", "-x", "x-", "a_b", "1abc", "a".repeat(APP_NAME_MAX + 1)]) {
    assert.equal(newAppName.safeParse(bad).success, false, bad);
  }
  // Requests name any app, a preview's too: up to a DNS label's 63.
  assert.equal(appName.safeParse("a".repeat(DNS_LABEL_MAX)).success, true);
  for (const bad of ["Hello", "x-", "a".repeat(DNS_LABEL_MAX + 1)]) assert.equal(appName.safeParse(bad).success, false, bad);
});

test("branch labels: made of the branch, cut with a hash past 31 characters, stable", () => {
  assert.equal(PREVIEW_LABEL_MAX, 31);
  assert.equal(branchLabel("feature-x"), "feature-x");
  assert.equal(branchLabel("Feature/Login_Form"), "feature-login-form");
  assert.equal(branchLabel("--x--"), "x");
  assert.equal(branchLabel("///"), null);
  assert.equal(branchLabel("a".repeat(31)), "a".repeat(31));
  const long = "feature/" + "x".repeat(80);
  const label = branchLabel(long)!;
  assert.equal(label.length, PREVIEW_LABEL_MAX);
  assert.match(label, /^feature-x+-[0-9a-f]{6}$/);
  assert.equal(branchLabel(long), label, "the same branch, the same label");
  assert.notEqual(branchLabel(long + "y"), label, "two long branches with one beginning differ");
  // A cut that ends on a dash does not leave two.
  assert.doesNotMatch(branchLabel("a".repeat(23) + "-" + "b".repeat(20))!, /--/);
});

test("the longest parent and branch: the preview's name and both hosts fit DNS labels", () => {
  const parent = "p" + "a".repeat(APP_NAME_MAX - 1);
  const label = branchLabel("release/" + "2026-".repeat(30) + "hotfix")!;
  const name = previewAppName(parent, label);
  assert.ok(name.length <= DNS_LABEL_MAX, name);
  assert.equal(appName.safeParse(name).success, true);
  const hosts = [appHostName(name, "apps.example.com"), previewHostName(label, parent, "apps.example.com")];
  assert.deepEqual(hosts, [`${name}.apps.example.com`, `${label}.${parent}.apps.example.com`]);
  for (const h of hosts) for (const l of h.split(".")) assert.ok(l.length >= 1 && l.length <= DNS_LABEL_MAX && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(l), l);
});

test("custom domains: lower-cased DNS names of two labels or more; no wildcards, IPs or bad labels", async () => {
  const { customDomainName, platformDomainProblem } = await import("./naming.ts");
  for (const [input, host] of [
    ["www.example.com", "www.example.com"],
    ["  WWW.Example.COM. ", "www.example.com"],
    ["xn--bcher-kva.example", "xn--bcher-kva.example"],
    ["a-b.c-d.example.co.uk", "a-b.c-d.example.co.uk"],
    ["1.example.com", "1.example.com"],
  ]) assert.equal(customDomainName.parse(input), host, input);
  const why = (h: string) => {
    const r = customDomainName.safeParse(h);
    return r.success ? null : r.error.issues.map((i) => i.message).join("; ");
  };
  assert.match(why("*.example.com")!, /wildcard domains are not supported: add each host name \(e\.g\. www\.example\.com\)/);
  assert.match(why("localhost")!, /not a full domain name/);
  assert.match(why("10.0.0.1")!, /IP address/);
  for (const bad of ["-a.example.com", "a-.example.com", "a..example.com", "a_b.example.com", "a b.example.com", "é.example.com", `${"a".repeat(64)}.com`, `${"a.".repeat(127)}com`, "example.com/x", ""]) {
    assert.ok(why(bad), `${JSON.stringify(bad)} is refused`);
  }
  assert.equal(platformDomainProblem("www.example.com", "apps.example.com"), null);
  assert.equal(platformDomainProblem("myapps.example.com", "apps.example.com"), null);
  assert.match(platformDomainProblem("apps.example.com", "apps.example.com")!, /platform's own domain \(\*\.apps\.example\.com\)/);
  assert.match(platformDomainProblem("x.y.apps.example.com", "apps.example.com")!, /add a domain of your own/);
});
