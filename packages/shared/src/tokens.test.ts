import { test } from "node:test";
import assert from "node:assert/strict";
import { generateToken, hashToken, tokenMatches } from "./tokens.ts";

test("a token is random, prefixed, and stored only as its sha256", () => {
  const a = generateToken();
  const b = generateToken();
  assert.notEqual(a.token, b.token);
  assert.match(a.token, /^paas_[A-Za-z0-9_-]{43}$/);
  assert.match(a.hash, /^[0-9a-f]{64}$/);
  assert.ok(!a.hash.includes(a.token) && a.token.startsWith(a.prefix));
  assert.equal(a.hash, hashToken(a.token));
});

test("tokenMatches accepts the token and nothing else", () => {
  const { token, hash } = generateToken();
  assert.equal(tokenMatches(token, hash), true);
  assert.equal(tokenMatches(token + "x", hash), false);
  assert.equal(tokenMatches("", hash), false);
  assert.equal(tokenMatches(token, "not-a-hash"), false);
});
