import { test } from "node:test";
import assert from "node:assert/strict";
import { parseProcfile, ProcfileError } from "./procfile.ts";

test("parses types and commands, skipping comments and blank lines", () => {
  const p = parseProcfile("# comment\nweb: node server.js --port $PORT\r\n\nworker:   node worker.js\n");
  assert.deepEqual(p, { web: "node server.js --port $PORT", worker: "node worker.js" });
});

test("keeps colons inside the command", () => {
  assert.deepEqual(parseProcfile("web: node -e 'a:b'"), { web: "node -e 'a:b'" });
});

test("rejects a line without a type, naming the line", () => {
  assert.throws(() => parseProcfile("web: ok\njust a command"), (e: Error) => e instanceof ProcfileError && /line 2/.test(e.message));
});

test("rejects empty commands and duplicate types", () => {
  assert.throws(() => parseProcfile("web:"), /no command/);
  assert.throws(() => parseProcfile("web: a\nWEB: b"), /declared twice/);
});
