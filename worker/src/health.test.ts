import { test } from "node:test";
import assert from "node:assert/strict";
import { bootTimeoutMs } from "./health.ts";

test("the boot timeout is 60 s unless PAAS_BOOT_TIMEOUT_MS says otherwise; a value that is no positive whole number of ms is ignored", () => {
  assert.equal(bootTimeoutMs({}), 60_000);
  assert.equal(bootTimeoutMs({ PAAS_BOOT_TIMEOUT_MS: "15000" }), 15_000);
  for (const bad of ["", "0", "-5", "1.5", "soon", "15s"]) assert.equal(bootTimeoutMs({ PAAS_BOOT_TIMEOUT_MS: bad }), 60_000, bad);
});
