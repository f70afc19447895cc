import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { expand, parseChown, planDockerfile } from "./plan.ts";
import { buildArgsFromConfig } from "./build.ts";
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
  assert.throws(() => planDockerfile("FROM stack/node\nADD https://example.com/x /x\n"), /line 2: ADD https:\/\/example\.com\/x: downloading in ADD is not supported .*RUN curl -fsSL -o \/path https:\/\/example\.com\/x or wget/);
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

test("COPY/ADD --chown: numeric ids and names are kept for the build; malformed ones fail with the line", () => {
  const [s] = planDockerfile("FROM stack/node AS b\nCOPY --chown=1000:1000 a /a\nADD --chown=app x.tar /x/\nCOPY --from=b --chown=0 /a /b\nCOPY --chown=${U}:${G} a /c\nCOPY a /d\n").stages;
  assert.deepEqual(s.steps.map((x) => x.kind === "copy" && [x.add, x.chown ?? null, x.from ?? null]), [[false, "1000:1000", null], [true, "app", null], [false, "0", "b"], [false, "${U}:${G}", null], [false, null, null]]);
  assert.match(s.steps[0].text, /^COPY --chown=1000:1000 a \/a$/, "the flag is part of the step (and of its cache key)");
  assert.deepEqual(parseChown("1000", 1), { user: "1000" });
  assert.deepEqual(parseChown("www-data:staff", 1), { user: "www-data", group: "staff" });
  assert.throws(() => planDockerfile("FROM stack/node\nCOPY --chown=1:2:3 a /a\n"), /^Error: Dockerfile line 2: --chown=1:2:3: expected user\[:group\], each a number or a name, e\.g\. --chown=1000:1000/);
  assert.throws(() => planDockerfile("FROM stack/node\n\nCOPY --chown= a /a\n"), /line 3: COPY --chown needs a user: --chown=1000/);
  assert.throws(() => planDockerfile("FROM stack/node\nCOPY --chown=9999999999 a /a\n"), /line 2: --chown=9999999999: 9999999999 is not a valid id/);
  assert.throws(() => planDockerfile("FROM stack/node\nCOPY --chown=bad/name a /a\n"), /line 2: --chown=bad\/name: expected user\[:group\]/);
  assert.throws(() => planDockerfile("FROM stack/node\nCOPY --chmod=755 a /a\n"), /line 2: COPY --chmod is not supported \(only --chown and --from\)/);
  assert.throws(() => planDockerfile("FROM stack/node\nADD --from=x a /a\n"), /line 2: ADD --from is not supported; use COPY --from/);
  assert.throws(() => planDockerfile("FROM stack/node\nADD --checksum=sha256:0 a /a\n"), /line 2: ADD --checksum is not supported \(only --chown\)/);
});

test("ADD of any remote source fails with its line; local archives are planned like any ADD", () => {
  for (const url of ["http://x/y.tgz", "ftp://h/f", "git@github.com:o/r.git"]) {
    assert.throws(() => planDockerfile(`FROM stack/node\nRUN true\nADD ${url} /x\n`), new RegExp(`line 3: ADD ${url.replace(/[.]/g, "\\.")}: downloading in ADD is not supported`));
  }
  const [s] = planDockerfile("FROM stack/node\nADD vendor.tar.gz /opt/\n").stages;
  assert.deepEqual(s.steps[0].kind === "copy" && [s.steps[0].add, s.steps[0].srcs, s.steps[0].dest], [true, ["vendor.tar.gz"], "/opt/"]);
});

test("build args: the app's config vars give values to declared ARGs only", () => {
  const plan = planDockerfile("ARG BASE=stack/node\nFROM $BASE\nARG TOKEN\nARG MODE=dev\nRUN true\n");
  assert.deepEqual(buildArgsFromConfig(plan, { TOKEN: "s3cret", MODE: "prod", DATABASE_URL: "postgres://x", BASE: "stack/busybox" }), { BASE: "stack/busybox", TOKEN: "s3cret", MODE: "prod" });
  assert.deepEqual(buildArgsFromConfig(plan, {}), {});
  assert.deepEqual(buildArgsFromConfig(plan, { toString: "x" } as Record<string, string>), {}, "only the vars themselves, not inherited names");
});
