/** Lockfiles to pinned requirements (python-locks.ts): the fixtures' real lockfiles and samples of each format's variants. */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { describePlan, pipReason, pythonInstallPlan, type PythonFiles } from "./python-locks.ts";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../tests/fixtures");
const NONE: PythonFiles = { requirements: null, pipfile: null, pipfileLock: null, pyproject: null, poetryLock: null, uvLock: null };
const fixture = (dir: string): PythonFiles => {
  const r = (f: string) => (fs.existsSync(path.join(FIXTURES, dir, f)) ? fs.readFileSync(path.join(FIXTURES, dir, f), "utf8") : null);
  return { requirements: r("requirements.txt"), pipfile: r("Pipfile"), pipfileLock: r("Pipfile.lock"), pyproject: r("pyproject.toml"), poetryLock: r("poetry.lock"), uvLock: r("uv.lock") };
};
/** The pinned lines without their hashes: "name==version[ ; marker]". */
const pins = (locked: string) => locked.split("\n").filter((l) => l && !l.startsWith(" ")).map((l) => l.replace(/ \\$/, ""));
const H = (c: string) => `sha256:${c.repeat(64)}`;

test("Pipfile.lock: the default packages pinned with their hashes, develop left out", () => {
  const plan = pythonInstallPlan(fixture("python-pipenv"));
  assert.equal(plan.source, "Pipfile.lock");
  assert.deepEqual(pins(plan.locked), [
    "blinker==1.9.0 ; python_version >= '3.9'",
    "click==8.5.0 ; python_version >= '3.10'",
    "flask==3.1.3 ; python_version >= '3.9'",
    "gunicorn==26.2.0 ; python_version >= '3.10'",
    "itsdangerous==2.2.0 ; python_version >= '3.8'",
    "jinja2==3.1.6 ; python_version >= '3.7'",
    "markupsafe==3.0.3 ; python_version >= '3.9'",
    "werkzeug==3.1.9 ; python_version >= '3.9'",
  ]);
  assert.match(plan.locked, /^flask==3\.1\.3 ; python_version >= '3\.9' \\\n {4}--hash=sha256:f4bcbefc124291925f1a26446da31a5178f9483862233b23c0c96a20701f670c$/m);
  assert.ok(!plan.locked.includes("pytest"), "develop is not installed");
  assert.deepEqual([plan.hashed, plan.direct, plan.installSelf], [true, "", "none"]);
  assert.equal(describePlan(plan), "Installing from Pipfile.lock (8 packages, hashes checked)");
});

test("Pipfile.lock: the project itself (-e .), a vendored path, a git dependency; a package without hashes turns hash checking off", () => {
  const lock = {
    _meta: { "pipfile-spec": 6 },
    default: {
      myapp: { editable: true, path: "." },
      fastsum: { path: "./vendor/fastsum" },
      tool: { git: "https://github.com/example/tool.git", ref: "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c" },
      requests: { hashes: [H("a"), H("b")], index: "pypi", version: "==2.32.3" },
      certifi: { version: "==2025.1.31" },
    },
    develop: { pytest: { hashes: [H("c")], version: "==8.3.4" } },
  };
  const plan = pythonInstallPlan({ ...NONE, pipfile: "[packages]\n", pipfileLock: JSON.stringify(lock) });
  assert.equal(plan.installSelf, "no-deps");
  assert.equal(plan.direct, "./vendor/fastsum\ntool @ git+https://github.com/example/tool.git@1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c\n");
  assert.equal(plan.locked, "certifi==2025.1.31\nrequests==2.32.3\n", "no --hash lines: pip refuses a partly hashed list");
  assert.deepEqual([plan.hashed, plan.unhashed, plan.packages], [false, ["certifi"], 4]);
  assert.equal(describePlan(plan), "Installing from Pipfile.lock (4 packages, hashes not checked: the lock has none for certifi; 2 from a path, VCS or URL, not hash-checked)");
});

test("poetry.lock (Poetry 2): the main group, optional extras and the dev group left out; a package project installs itself", () => {
  const plan = pythonInstallPlan(fixture("python-poetry"));
  assert.equal(plan.source, "poetry.lock");
  assert.deepEqual(pins(plan.locked), ["blinker==1.9.0", "click==8.5.0", "flask==3.1.3", "gunicorn==26.2.0", "itsdangerous==2.2.0", "jinja2==3.1.6", "markupsafe==3.0.3", "werkzeug==3.1.9"]);
  assert.ok(plan.hashed);
  assert.equal(plan.installSelf, "no-deps", "[tool.poetry] packages with a build-system");
  const app = fixture("python-poetry").pyproject!.replace("[tool.poetry]\n", "[tool.poetry]\npackage-mode = false\n");
  assert.equal(pythonInstallPlan({ ...fixture("python-poetry"), pyproject: app }).installSelf, "none", "package-mode = false");

  const lock = `
[[package]]
name = "colorama"
version = "0.4.6"
description = "Cross-platform colored terminal text."
optional = false
python-versions = "!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*,!=3.5.*,!=3.6.*,>=2.7"
groups = ["main", "dev"]
markers = {main = "platform_system == \\"Windows\\"", dev = "sys_platform == \\"win32\\""}
files = [
    {file = "colorama-0.4.6-py2.py3-none-any.whl", hash = "${H("1")}"},
    {file = "colorama-0.4.6.tar.gz", hash = "${H("2")}"},
]

[[package]]
name = "psycopg2"
version = "2.9.10"
description = "psycopg2 - Python-PostgreSQL Database Adapter"
optional = true
python-versions = ">=3.8"
groups = ["main"]
markers = "extra == \\"postgres\\""
files = [{file = "psycopg2-2.9.10.tar.gz", hash = "${H("3")}"}]

[[package]]
name = "shared"
version = "0.1.0"
description = ""
optional = false
python-versions = "*"
groups = ["main"]
files = []
develop = true

[package.source]
type = "directory"
url = "libs/shared"

[metadata]
lock-version = "2.1"
python-versions = ">=3.11"
content-hash = "0"
`;
  const p = pythonInstallPlan({ ...NONE, pyproject: '[tool.poetry]\nname = "x"\npackage-mode = false\n', poetryLock: lock });
  assert.deepEqual(pins(p.locked), ['colorama==0.4.6 ; platform_system == "Windows"']);
  assert.match(p.locked, new RegExp(`--hash=${H("1")} \\\\\n {4}--hash=${H("2")}$`, "m"));
  assert.equal(p.direct, "-e ./libs/shared\n");
});

test("poetry.lock from Poetry 1.x: category = main with [metadata.files]; lock 2.0 (no groups) follows the main dependencies from pyproject.toml", () => {
  const v11 = `
[[package]]
name = "click"
version = "8.1.3"
description = "Composable command line interface toolkit"
category = "main"
optional = false
python-versions = ">=3.7"

[package.dependencies]
colorama = {version = "*", markers = "platform_system == \\"Windows\\""}

[[package]]
name = "pytest"
version = "7.2.0"
description = "pytest: simple powerful testing with Python"
category = "dev"
optional = false
python-versions = ">=3.7"

[metadata]
lock-version = "1.1"
python-versions = "^3.9"
content-hash = "0"

[metadata.files]
click = [
    {file = "click-8.1.3-py3-none-any.whl", hash = "${H("4")}"},
]
pytest = [
    {file = "pytest-7.2.0-py3-none-any.whl", hash = "${H("5")}"},
]
`;
  const old = pythonInstallPlan({ ...NONE, pyproject: '[tool.poetry]\nname = "x"\n', poetryLock: v11 });
  assert.equal(old.locked, `click==8.1.3 \\\n    --hash=${H("4")}\n`);

  const v20 = (extra: string) => `
[[package]]
name = "uvicorn"
version = "0.30.6"
description = "The lightning-fast ASGI server."
optional = false
python-versions = ">=3.8"
files = [{file = "uvicorn-0.30.6-py3-none-any.whl", hash = "${H("6")}"}]

[package.dependencies]
h11 = ">=0.8"
httptools = {version = ">=0.5.0", optional = true, markers = "extra == \\"standard\\""}

[package.extras]
standard = ["httptools (>=0.5.0)"]

[[package]]
name = "h11"
version = "0.14.0"
description = "A pure-Python, bring-your-own-I/O implementation of HTTP/1.1"
optional = false
python-versions = ">=3.7"
files = [{file = "h11-0.14.0-py3-none-any.whl", hash = "${H("7")}"}]

[[package]]
name = "httptools"
version = "0.6.4"
description = "A collection of framework independent HTTP protocol utils."
optional = false
python-versions = ">=3.8.0"
files = [{file = "httptools-0.6.4.tar.gz", hash = "${H("8")}"}]

[[package]]
name = "black"
version = "24.8.0"
description = "The uncompromising code formatter."
optional = false
python-versions = ">=3.8"
files = [{file = "black-24.8.0-py3-none-any.whl", hash = "${H("9")}"}]
${extra}
[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "0"
`;
  const pyproject = (uvicorn: string) => `[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\npython = "^3.11"\nuvicorn = ${uvicorn}\n\n[tool.poetry.group.dev.dependencies]\nblack = "^24"\n`;
  assert.deepEqual(pins(pythonInstallPlan({ ...NONE, pyproject: pyproject('"^0.30"'), poetryLock: v20("") }).locked), ["h11==0.14.0", "uvicorn==0.30.6"]);
  assert.deepEqual(pins(pythonInstallPlan({ ...NONE, pyproject: pyproject('{version = "^0.30", extras = ["standard"]}'), poetryLock: v20("") }).locked), ["h11==0.14.0", "httptools==0.6.4", "uvicorn==0.30.6"]);
  assert.throws(() => pythonInstallPlan({ ...NONE, poetryLock: v20("") }), /poetry\.lock needs its pyproject\.toml/);
});

test("uv.lock: the project's dependencies without its dev group; a virtual project does not install itself", () => {
  const plan = pythonInstallPlan(fixture("python-uv"));
  assert.equal(plan.source, "uv.lock");
  assert.deepEqual(pins(plan.locked), [
    "annotated-doc==0.0.5",
    "annotated-types==0.8.0",
    "anyio==4.15.1",
    "click==8.5.0",
    "fastapi==0.142.2",
    "h11==0.16.0",
    "idna==3.20",
    "opentelemetry-api==1.45.0",
    "pydantic==2.13.5",
    "pydantic-core==2.46.5",
    "starlette==1.7.0",
    "typing-extensions==4.16.0",
    "typing-inspection==0.4.4",
    "uvicorn==0.54.0",
  ]);
  assert.ok(plan.hashed);
  assert.equal(plan.installSelf, "none");
  assert.equal(describePlan(plan), "Installing from uv.lock (14 packages, hashes checked)");
});

test("uv.lock: markers carried along the dependency paths, extras followed, forks by version, workspace members and git sources", () => {
  const lock = `version = 1
revision = 2
requires-python = ">=3.9"
resolution-markers = [
    "python_full_version >= '3.10'",
    "python_full_version < '3.10'",
]

[[package]]
name = "app"
version = "1.0.0"
source = { editable = "." }
dependencies = [
    { name = "click" },
    { name = "numpy", version = "2.0.2", source = { registry = "https://pypi.org/simple" }, marker = "python_full_version < '3.10'" },
    { name = "numpy", version = "2.2.4", source = { registry = "https://pypi.org/simple" }, marker = "python_full_version >= '3.10'" },
    { name = "uvicorn", extra = ["standard"] },
    { name = "shared" },
    { name = "tool" },
]

[package.optional-dependencies]
docs = [{ name = "sphinx" }]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "click"
version = "8.1.8"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "colorama", marker = "sys_platform == 'win32'" }]
sdist = { url = "https://files.pythonhosted.org/packages/b9/2e/0090cbf7/click-8.1.8.tar.gz", hash = "${H("a")}", size = 226593 }
wheels = [{ url = "https://files.pythonhosted.org/packages/7e/d4/7ebdbd03/click-8.1.8-py3-none-any.whl", hash = "${H("b")}", size = 98188 }]

[[package]]
name = "colorama"
version = "0.4.6"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.pythonhosted.org/packages/d1/d6/3965ed04/colorama-0.4.6-py2.py3-none-any.whl", hash = "${H("c")}", size = 25335 }]

[[package]]
name = "numpy"
version = "2.0.2"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version < '3.10'"]
wheels = [{ url = "https://files.pythonhosted.org/x/numpy-2.0.2.whl", hash = "${H("d")}" }]

[[package]]
name = "numpy"
version = "2.2.4"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version >= '3.10'"]
wheels = [{ url = "https://files.pythonhosted.org/x/numpy-2.2.4.whl", hash = "${H("e")}" }]

[[package]]
name = "uvicorn"
version = "0.34.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "h11" }]
wheels = [{ url = "https://files.pythonhosted.org/x/uvicorn-0.34.0.whl", hash = "${H("f")}" }]

[package.optional-dependencies]
standard = [
    { name = "colorama", marker = "sys_platform == 'win32'" },
    { name = "uvloop", marker = "platform_python_implementation != 'PyPy' and sys_platform != 'win32'" },
]

[[package]]
name = "uvloop"
version = "0.21.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.pythonhosted.org/x/uvloop-0.21.0.whl", hash = "${H("0")}" }]

[[package]]
name = "h11"
version = "0.14.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.pythonhosted.org/x/h11-0.14.0.whl", hash = "${H("1")}" }]

[[package]]
name = "shared"
version = "0.1.0"
source = { editable = "packages/shared" }
dependencies = [{ name = "h11" }]

[[package]]
name = "tool"
version = "0.3.0"
source = { git = "https://github.com/example/tool?rev=v0.3.0#0123456789abcdef0123456789abcdef01234567" }

[[package]]
name = "pytest"
version = "8.3.5"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.pythonhosted.org/x/pytest-8.3.5.whl", hash = "${H("2")}" }]

[[package]]
name = "sphinx"
version = "8.1.3"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://files.pythonhosted.org/x/sphinx-8.1.3.whl", hash = "${H("3")}" }]
`;
  const plan = pythonInstallPlan({ ...NONE, pyproject: '[project]\nname = "app"\nversion = "1.0.0"\n\n[build-system]\nrequires = ["setuptools"]\n', uvLock: lock });
  assert.deepEqual(pins(plan.locked), [
    "click==8.1.8",
    "colorama==0.4.6 ; sys_platform == 'win32'",
    "h11==0.14.0",
    "numpy==2.0.2 ; python_full_version < '3.10'",
    "numpy==2.2.4 ; python_full_version >= '3.10'",
    "uvicorn==0.34.0",
    "uvloop==0.21.0 ; platform_python_implementation != 'PyPy' and sys_platform != 'win32'",
  ]);
  assert.match(plan.locked, new RegExp(`^click==8\\.1\\.8 \\\\\n {4}--hash=${H("a")} \\\\\n {4}--hash=${H("b")}$`, "m"), "the sdist's hash and the wheels'");
  assert.ok(!/pytest|sphinx/.test(plan.locked), "dev group and the project's own extras left out");
  assert.equal(plan.direct, "-e ./packages/shared\ntool @ git+https://github.com/example/tool@0123456789abcdef0123456789abcdef01234567\n");
  assert.equal(plan.installSelf, "no-deps", "editable: the project is a package");
  // a package on a path of two conditional edges: both markers; one reached on two paths: either, the weaker kept
  const nested = lock.replace('{ name = "uvicorn", extra = ["standard"] },', `{ name = "uvicorn", extra = ["standard"], marker = "python_full_version >= '3.10'" },`);
  const nestedPins = pins(pythonInstallPlan({ ...NONE, uvLock: nested }).locked);
  assert.ok(nestedPins.includes("uvloop==0.21.0 ; (platform_python_implementation != 'PyPy' and sys_platform != 'win32') and (python_full_version >= '3.10')"), nestedPins.join("\n"));
  assert.ok(nestedPins.includes("uvicorn==0.34.0 ; python_full_version >= '3.10'"));
  assert.ok(nestedPins.includes("colorama==0.4.6 ; sys_platform == 'win32'"), "through click, whatever the Python");
  const twoWays = lock.replace('{ name = "click" },', `{ name = "click", marker = "sys_platform == 'linux'" },`).replace('{ name = "uvicorn", extra = ["standard"] },', `{ name = "uvicorn", extra = ["standard"], marker = "sys_platform == 'darwin'" },`);
  assert.ok(pins(pythonInstallPlan({ ...NONE, uvLock: twoWays }).locked).includes("colorama==0.4.6 ; ((sys_platform == 'linux') and (sys_platform == 'win32')) or ((sys_platform == 'darwin') and (sys_platform == 'win32'))"));
  assert.throws(() => pythonInstallPlan({ ...NONE, uvLock: lock.replace('source = { editable = "." }', 'source = { registry = "https://pypi.org/simple" }') }), /uv\.lock has no entry for the project itself/);
  assert.throws(() => pythonInstallPlan({ ...NONE, uvLock: lock.replace('[{ name = "h11" }]\nwheels = [{ url = "https://files.pythonhosted.org/x/uvicorn', '[{ name = "h12" }]\nwheels = [{ url = "https://files.pythonhosted.org/x/uvicorn') }), /uvicorn depends on h12, which the lock does not have: run `uv lock`/);
});

test("which file decides: requirements.txt, Pipfile.lock, poetry.lock, uv.lock, then pyproject.toml (pip install .)", () => {
  const all = { ...fixture("python-pipenv"), poetryLock: fixture("python-poetry").poetryLock, uvLock: fixture("python-uv").uvLock, pyproject: fixture("python-poetry").pyproject };
  const req = pythonInstallPlan({ ...all, requirements: "flask\n" });
  assert.deepEqual([req.source, req.ignored, req.locked], ["requirements.txt", ["Pipfile.lock", "poetry.lock", "uv.lock"], ""]);
  assert.equal(pythonInstallPlan({ ...NONE, requirements: "flask\n", pyproject: "[not toml" }).source, "requirements.txt", "pyproject.toml is not read then");
  assert.deepEqual(pythonInstallPlan(all).ignored, ["poetry.lock", "uv.lock"]);
  assert.equal(pythonInstallPlan({ ...all, pipfileLock: null, pipfile: null }).source, "poetry.lock");
  assert.equal(pythonInstallPlan({ ...all, pipfileLock: null, pipfile: null, poetryLock: null, pyproject: fixture("python-uv").pyproject }).source, "uv.lock");
  const pyproject = pythonInstallPlan({ ...NONE, pyproject: '[project]\nname = "x"\n' });
  assert.deepEqual([pyproject.source, pyproject.installSelf], ["pyproject.toml", "with-deps"]);
  assert.equal(pythonInstallPlan(NONE).source, null);
});

test("a Pipfile without its lock, a Poetry project without poetry.lock: refused, saying what to commit", () => {
  assert.throws(() => pythonInstallPlan({ ...NONE, pipfile: fixture("python-pipenv").pipfile }), /run `pipenv lock` and commit Pipfile\.lock/);
  assert.throws(() => pythonInstallPlan({ ...NONE, pyproject: fixture("python-poetry").pyproject }), /run `poetry lock` and commit poetry\.lock/);
  assert.throws(() => pythonInstallPlan({ ...NONE, pyproject: '[build-system]\nbuild-backend = "poetry.core.masonry.api"\n' }), /poetry lock/);
});

test("a broken lock is refused with where and how to remake it", () => {
  assert.throws(() => pythonInstallPlan({ ...NONE, pipfileLock: '{"default": {' }), /Pipfile\.lock is not valid JSON .*run `pipenv lock`/);
  assert.throws(() => pythonInstallPlan({ ...NONE, pyproject: "[tool.poetry]\n", poetryLock: "[[package]\nname =" }), /poetry\.lock is not valid TOML \(line 1: .*run `poetry lock`/);
  assert.throws(() => pythonInstallPlan({ ...NONE, pyproject: "[project\n" }), /pyproject\.toml is not valid TOML: line 1/);
  // what would make pip read another option, or another line
  const entry = (e: object) => JSON.stringify({ default: { flask: { hashes: [H("a")], version: "==3.1.3" }, ...e } });
  assert.throws(() => pythonInstallPlan({ ...NONE, pipfileLock: entry({ "--index-url=http://x": { version: "==1" } }) }), /"--index-url=http:\/\/x" is not a package name/);
  assert.throws(() => pythonInstallPlan({ ...NONE, pipfileLock: entry({ x: { version: "==1\n--pre" } }) }), /package x has no version the lock pins/);
  assert.throws(() => pythonInstallPlan({ ...NONE, pipfileLock: entry({ x: { version: "==1", hashes: ["md5:abc"] } }) }), /not algorithm:hex/);
  assert.throws(() => pythonInstallPlan({ ...NONE, pipfileLock: entry({ x: { path: "../outside" } }) }), /outside the pushed tree/);
});

test("pip's reason for a failed install: its last errors, a hash mismatch with the packages it names", () => {
  const missing = [
    "Processing /opt/pypi/files/click-8.5.0-py3-none-any.whl (from -r /app/.paas-locked-requirements.txt (line 3))",
    "ERROR: Could not find a version that satisfies the requirement flask==9.9.9 (from versions: 3.1.3)",
    "ERROR: No matching distribution found for flask==9.9.9",
  ];
  assert.equal(pipReason(missing), "Could not find a version that satisfies the requirement flask==9.9.9 (from versions: 3.1.3); No matching distribution found for flask==9.9.9");
  const mismatch = [
    "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated the package versions, please update the hashes. Otherwise, examine the package contents carefully; someone may have tampered with them.",
    "    flask==3.1.3 from file:///opt/pypi/files/flask-3.1.3-py3-none-any.whl#sha256=f4bc (from -r /app/.paas-locked-requirements.txt (line 5)):",
    "        Expected sha256 0000befc124291925f1a26446da31a5178f9483862233b23c0c96a20701f670c",
    "             Got        f4bcbefc124291925f1a26446da31a5178f9483862233b23c0c96a20701f670c",
  ];
  assert.equal(pipReason(mismatch), "the hashes of these packages do not match the lock: flask==3.1.3");
  assert.equal(pipReason(["Collecting flask", "Successfully installed flask-3.1.3"]), undefined);
});
