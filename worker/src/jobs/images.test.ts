import { test } from "node:test";
import assert from "node:assert/strict";
import { imagesToRemove, keepImages } from "./images.ts";

const rel = (...refs: string[]) => refs.map((imageRef) => ({ imageRef }));

test("keeps the images of the last N distinct releases", () => {
  const stored = ["a:1", "a:2", "a:3", "a:4"];
  // v6 a:4, v5 a:3 (config change: same image twice), v4 a:3, v3 a:2, v2 a:1
  assert.deepEqual(imagesToRemove(stored, rel("a:4", "a:3", "a:3", "a:2", "a:1"), [], 2), ["a:1", "a:2"]);
});

test("an image in use survives however old it is", () => {
  assert.deepEqual(imagesToRemove(["a:1", "a:2", "a:3"], rel("a:3", "a:2", "a:1"), ["a:1"], 1), ["a:2"]);
});

test("images without any release (failed deploys) are removed, unless in use", () => {
  assert.deepEqual(imagesToRemove(["a:1", "a:x", "a:y"], rel("a:1"), ["a:y"], 5), ["a:x"]);
});

test("PAAS_KEEP_IMAGES: a positive integer, else 5", () => {
  assert.equal(keepImages({}), 5);
  assert.equal(keepImages({ PAAS_KEEP_IMAGES: "2" }), 2);
  assert.equal(keepImages({ PAAS_KEEP_IMAGES: "0" }), 5);
  assert.equal(keepImages({ PAAS_KEEP_IMAGES: "x" }), 5);
});
