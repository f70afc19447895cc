import { test } from "node:test";
import assert from "node:assert/strict";
import { configKeysInput, configVarsInput, keyProblem, parseAssignments } from "./config-vars.ts";

test("env var names: letters, digits, underscores, not starting with a digit", () => {
  for (const ok of ["A", "DATABASE_URL", "_x", "a1"]) assert.equal(keyProblem(ok), null, ok);
  for (const bad of ["", "1A", "A-B", "A B", "A=B", "É", "A.B"]) assert.match(keyProblem(bad) ?? "", /not a valid name/, bad);
});

test("platform names are refused", () => {
  assert.match(keyProblem("PORT") ?? "", /set by the platform/);
  assert.match(keyProblem("PAAS_APP") ?? "", /set by the platform/);
  assert.equal(keyProblem("PAAS_BUILDER"), null, "an app forces its builder with a config var");
});

test("K=V parsing keeps '=' in values and reports every bad argument", () => {
  assert.deepEqual(parseAssignments(["A=1", "B=x=y", "C="]), { A: "1", B: "x=y", C: "" });
  assert.throws(() => parseAssignments(["A=1", "nope", "2X=3"]), (err: Error) => /"nope" is not KEY=VALUE/.test(err.message) && /"2X"/.test(err.message));
});

test("the API schemas refuse a bad key among good ones (so nothing is changed)", () => {
  assert.equal(configVarsInput.safeParse({ A: "1", "B-C": "2" }).success, false);
  assert.equal(configVarsInput.safeParse({}).success, false);
  assert.equal(configVarsInput.safeParse({ A: "1" }).success, true);
  assert.equal(configKeysInput.safeParse(["A", "1B"]).success, false);
  assert.equal(configVarsInput.safeParse({ A: "x\0y" }).success, false);
});
