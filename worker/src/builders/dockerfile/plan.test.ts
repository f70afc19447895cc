import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { expand, planDockerfile } from "./plan.ts";
import { loadIgnore } from "./ignore.ts";

test("the multi-stage fixture plans into two stages with line numbers", () => {
  const text = fs.readFileSync(path.join(import.meta.dirname, "../../../../tests/fixtures/dockerfile-multi/Dockerfile"), "utf8");
  const plan = planDockerfile(text);
  assert.deepEqual(plan.globalArgs, [{ name: "GREETING", value: "hello", line: 2 }]);
  assert.equal(plan.stages.length, 2);
  const [build, final] = plan.stages;
  assert.equal(build.name, "build");
  assert.equal(build.line, 4);
  assert.deepEqual(build.steps.map((s) => [s.kind, s.line]), [["arg", 5], ["workdir", 6], ["copy", 7], ["run", 8]]);
  const run = build.steps[3];
  assert.equal(run.kind === "run" && run.shell?.replace(/\s+/g, " "), 'node build.js "$GREETING from a multi-stage Dockerfile" > out.json && echo built');
  assert.equal(final.from, "stack/node");
  const copyFrom = final.steps.find((s) => s.kind === "copy" && s.from);
  assert.deepEqual(copyFrom && copyFrom.kind === "copy" && [copyFrom.from, copyFrom.srcs, copyFrom.dest], ["build", ["/src/out.json"], "./data/out.json"]);
  const env = final.steps[0];
  assert.deepEqual(env.kind === "env" && env.pairs, [["NODE_ENV", "production"], ["APP_HOME", "/srv/app"]]);
  const cmd = final.steps[final.steps.length - 1];
  assert.deepEqual(cmd.kind === "cmd" && cmd.argv, ["node", "server.js"]);
});

test("an unknown instruction fails with its line number", () => {
  assert.throws(() => planDockerfile("FROM stack/node\nRUN true\n\nFROBNICATE x\n"), /^Error: Dockerfile line 4: unknown or unsupported instruction FROBNICATE/);
  assert.throws(() => planDockerfile("FROM stack/node\nHEALTHCHECK CMD true\n"), /line 2: unknown or unsupported instruction HEALTHCHECK/);
});

test("instructions before FROM, a missing FROM, bad COPY --from and ADD of a URL are refused", () => {
  assert.throws(() => planDockerfile("RUN true\n"), /line 1: RUN before the first FROM/);
  assert.throws(() => planDockerfile("# nothing\n"), /no FROM/);
  assert.throws(() => planDockerfile("FROM stack/node\nCOPY --from=nope /a /b\n"), /line 2: COPY --from=nope: no earlier stage/);
  assert.throws(() => planDockerfile("FROM stack/node\nADD https://example.com/x /x\n"), /line 2: ADD of a URL is not supported/);
  assert.throws(() => planDockerfile("FROM stack/node AS a\nFROM stack/node AS a\n"), /line 2: stage name "a" is used twice/);
});

test("exec and shell forms of RUN, CMD and ENTRYPOINT", () => {
  const [s] = planDockerfile('FROM stack/busybox\nRUN ["echo", "hi"]\nENTRYPOINT /bin/app --flag\nCMD echo $HOME\n').stages;
  assert.deepEqual(s.steps.map((x) => ("argv" in x && x.argv) || ("shell" in x && x.shell)), [["echo", "hi"], "/bin/app --flag", "echo $HOME"]);
});

test("a FROM of an earlier stage refers to it", () => {
  const plan = planDockerfile("FROM stack/node AS base\nRUN true\nFROM base\n");
  assert.equal(plan.stages[1].fromStage, 0);
});

test("variable expansion", () => {
  const v = { A: "1", E: "" };
  assert.equal(expand("$A-${A}-${B:-d}-${A:+set}-${E:-empty}-\\$A", v), "1-1-d-set-empty-$A");
});

test(".dockerignore: patterns, directories, ** and ! exceptions", () => {
  const ig = loadIgnore("# c\nnode_modules\n*.md\n!README.md\n**/*.log\n/build/\n");
  assert.equal(ig("node_modules/x/y.js"), true);
  assert.equal(ig("NOTES.md"), true);
  assert.equal(ig("README.md"), false);
  assert.equal(ig("a/b/c.log"), true);
  assert.equal(ig("x.log"), true);
  assert.equal(ig("build/out.js"), true);
  assert.equal(ig("src/build.js"), false);
  assert.equal(ig("docs/a.md"), false, "*.md is for the top level only");
});
