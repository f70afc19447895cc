import { test } from "node:test";
import assert from "node:assert/strict";
import { cacheImagesToRemove, imagesToRemove, keepImages } from "./images.ts";
import { CACHE_KEYS_LABEL } from "../builders/dockerfile/cache.ts";

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

test("Dockerfile cache: what kept images were built from stays, the rest of the app's cache goes", () => {
  const built = (...keys: string[]) => ({ config: { cmd: [], env: {}, workdir: "/", labels: { [CACHE_KEYS_LABEL]: keys.join(" ") } } });
  const stored = ["cache/a/df:k1", "cache/a/df:k2", "cache/a/df:k3", "cache/a/df:old", "cache/a/node-deps:x", "cache/b/df:k1", "app/a:1", "stack/node:latest"];
  // Two kept builds share k1; a Node build's image has no label.
  const kept = [built("k1", "k2"), built("k1", "k3"), { config: { cmd: [], env: {}, workdir: "/" } }];
  assert.deepEqual(cacheImagesToRemove("a", stored, kept), ["cache/a/df:old"], "other kinds of cache, other apps and app images are not its business");
  assert.deepEqual(cacheImagesToRemove("a", stored, []), ["cache/a/df:k1", "cache/a/df:k2", "cache/a/df:k3", "cache/a/df:old"], "no kept image: the whole Dockerfile cache goes");
  assert.deepEqual(cacheImagesToRemove("ab", ["cache/a/df:k1", "cache/ab/df:k1"], []), ["cache/ab/df:k1"], "an app whose name starts another's");
});
