import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isWorkerToken, workerToken } from "./worker-token.ts";

test("the worker token comes from PAAS_WORKER_TOKEN, else one file in the data dir that both sides share", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "paas-wt-"));
  try {
    assert.equal(workerToken({ PAAS_WORKER_TOKEN: "given" }, dir), "given");
    const made = workerToken({}, dir);
    assert.match(made, /^[0-9a-f]{64}$/);
    assert.equal(workerToken({}, dir), made, "the second caller reads the first one's");
    assert.equal(readFileSync(path.join(dir, "worker-token"), "utf8").trim(), made);
    assert.equal(statSync(path.join(dir, "worker-token")).mode & 0o777, 0o600);
    assert.equal(isWorkerToken(made, made), true);
    for (const wrong of [null, "", made.slice(1), "x" + made.slice(1)]) assert.equal(isWorkerToken(wrong, made), false, String(wrong));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
