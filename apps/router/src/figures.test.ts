import { test } from "node:test";
import assert from "node:assert/strict";
import { Figures } from "./figures.ts";

test("an app no longer routed loses its figures, and later lines of it are not counted", () => {
  const f = new Figures();
  f.record("a", 200, 10, 20, 3);
  f.record("gone", 500, 1, 2, 3);
  f.retain(new Set(["a"]));
  assert.equal(f.get("gone"), undefined);
  assert.equal(f.get("a")?.requests["2xx"], 1);
  f.record("gone", 200, 1, 2, 3);
  assert.equal(f.get("gone"), undefined, "a line logged after its route went");
  f.retain(new Set(["a", "gone"]));
  f.record("gone", 200, 1, 2, 3);
  assert.equal(f.get("gone")?.requests["2xx"], 1, "made again under the name: counted from nothing");
  assert.equal(f.get("gone")?.requests["5xx"], 0);
});
