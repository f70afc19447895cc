import { test } from "node:test";
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { BuildLog } from "./build-log.ts";

// mask/redact never touch Redis; lines written through the log are covered by tests/e2e/dockerfile.test.ts.
const log = () => new BuildLog(null as unknown as Redis, "b1");

test("masked values are hidden wherever they appear, the longest first", () => {
  const l = log();
  l.mask("s3cret");
  l.mask("s3cret-and-more");
  assert.equal(l.redact("token s3cret-and-more, again s3cret."), "token *****, again *****.");
});

test("each line of a multi-line value is masked; values under 4 characters are not", () => {
  const l = log();
  l.mask("-----BEGIN KEY-----\nabcdef\n");
  l.mask("on");
  assert.equal(l.redact("got abcdef and -----BEGIN KEY----- on"), "got ***** and ***** on");
});
