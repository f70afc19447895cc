import assert from "node:assert/strict";
import { test } from "node:test";
import { isBaseImage } from "./stacks.ts";

test("isBaseImage: our stacks and the official repos with any tag; nothing else", () => {
  for (const ref of ["stack/run", "stack/node-build:latest", "node", "node:20-slim", "python:3.11", "debian:bookworm-slim"]) assert.ok(isBaseImage(ref), ref);
  for (const ref of ["ruby:3.3", "stack/nodejs", "library/node:20", "app/x:v1", "nodes", "stack"]) assert.ok(!isBaseImage(ref), ref);
});
