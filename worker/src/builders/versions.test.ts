/** The runtime versions an app asks for (engines.node, .python-version, runtime.txt) against the one the stack has; local requirements. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkEngines } from "./node.ts";
import { checkPythonVersion, localRequirements } from "./python.ts";

test("engines.node: a range the stack's Node satisfies passes; another is refused naming the version here", () => {
  assert.equal(checkEngines(undefined, "20.20.2"), undefined);
  assert.equal(checkEngines(">=18", "20.20.2"), ">=18");
  assert.equal(checkEngines("20.x", "20.20.2"), "20.x");
  assert.throws(() => checkEngines("22.x", "20.20.2"), /asks for Node 22\.x \(engines\.node\), but this platform has Node 20\.20\.2 only; allow 20\.x/);
  assert.throws(() => checkEngines("latest please", "20.20.2"), /is not a version range/);
});

test(".python-version and runtime.txt: a prefix of the stack's version passes; another is refused naming the version here", () => {
  const none = { pythonVersion: null, runtimeTxt: null };
  assert.equal(checkPythonVersion(none, "3.11.2"), undefined);
  assert.equal(checkPythonVersion({ ...none, pythonVersion: "3.11\n" }, "3.11.2"), "3.11");
  assert.equal(checkPythonVersion({ ...none, runtimeTxt: "python-3.11.2" }, "3.11.2"), "3.11.2");
  assert.equal(checkPythonVersion({ pythonVersion: "# pyenv\n3\n", runtimeTxt: "python-3.12" }, "3.11.2"), "3", ".python-version wins");
  assert.throws(() => checkPythonVersion({ ...none, pythonVersion: "3.12" }, "3.11.2"), /\.python-version asks for Python 3\.12, but this platform has Python 3\.11\.2 only \(Debian's\); ask for 3\.11/);
  assert.throws(() => checkPythonVersion({ ...none, runtimeTxt: "python-3.1" }, "3.11.2"), /runtime\.txt asks for Python 3\.1,/);
  assert.throws(() => checkPythonVersion({ ...none, runtimeTxt: "pypy3.10" }, "3.11.2"), /not a Python version/);
});

test("local requirements: paths, editable ones and file: ones, not names or URLs", () => {
  assert.deepEqual(localRequirements("flask\n./vendor/fastsum\n-e ../lib/ # mine\nfile:./pkgs/a.tar.gz\nhttps://x/y.whl\ngunicorn==23\n"), ["vendor/fastsum", "../lib", "pkgs/a.tar.gz"]);
});
