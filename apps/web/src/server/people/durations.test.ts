import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDuration } from "./durations.ts";

test("durations", () => {
  assert.equal(parseDuration("30d"), 30 * 86_400_000);
  assert.equal(parseDuration("12h"), 12 * 3_600_000);
  assert.equal(parseDuration("1w"), 604_800_000);
  assert.equal(parseDuration("0d"), null);
  assert.equal(parseDuration("30"), null);
  assert.equal(parseDuration("-1d"), null);
});
