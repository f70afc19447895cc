// CGI header parsing and the CGI runner, against real programs (sh, git http-backend).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseCgiHead, runCgi, MAX_CGI_HEAD } from "../../apps/web/src/server/git/cgi.ts";
import { backendEnv, hooksDir } from "../../apps/web/src/server/git/hooks.ts";
import { parseGitRequest } from "../../apps/web/src/server/git/endpoint.ts";

test("parseCgiHead: CRLF headers, Status line, body kept byte for byte", () => {
  const body = Buffer.from([0, 1, 2, 0x0d, 0x0a, 0x0d, 0x0a, 255]);
  const buf = Buffer.concat([
    Buffer.from("Status: 404 Not Found\r\nContent-Type: text/plain\r\nExpires: Fri, 01 Jan 1980 00:00:00 GMT\r\n\r\n"),
    body,
  ]);
  const r = parseCgiHead(buf);
  assert.ok(r);
  assert.equal(r.head.status, 404);
  assert.equal(r.head.statusText, "Not Found");
  assert.deepEqual(r.head.headers, [
    ["Content-Type", "text/plain"],
    ["Expires", "Fri, 01 Jan 1980 00:00:00 GMT"],
  ]);
  assert.deepEqual([...r.body], [...body]);
});

test("parseCgiHead: LF-only headers and the default status 200", () => {
  const r = parseCgiHead(Buffer.from("Content-Type: application/x-git-upload-pack-advertisement\n\n001e# service"));
  assert.ok(r);
  assert.equal(r.head.status, 200);
  assert.deepEqual(r.head.headers, [["Content-Type", "application/x-git-upload-pack-advertisement"]]);
  assert.equal(r.body.toString(), "001e# service");
});

test("parseCgiHead: an incomplete block waits for more, a broken one throws", () => {
  assert.equal(parseCgiHead(Buffer.from("Content-Type: text/plain\r\n")), null);
  assert.equal(parseCgiHead(Buffer.from("Content-Type: text/pl")), null);
  assert.throws(() => parseCgiHead(Buffer.from("no colon here\r\n\r\n")), /malformed CGI header/);
  assert.throws(() => parseCgiHead(Buffer.from("Status: abc\r\n\r\n")), /malformed CGI Status/);
  assert.throws(() => parseCgiHead(Buffer.alloc(MAX_CGI_HEAD + 1, "a")), /larger than/);
});

test("runCgi streams the body while the program still runs", async () => {
  const script = 'printf "Status: 202 Accepted\\r\\nX-Test: yes\\r\\n\\r\\nfirst\\n"; read line; printf "got %s\\n" "$line"';
  // The program waits for its stdin before writing the second part: if the
  // response were buffered until exit, the first read below would hang.
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) });
  let exitCode: number | null | undefined;
  const res = await runCgi({
    command: "sh",
    args: ["-c", script],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    body,
    onExit: (code) => (exitCode = code),
  });
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("x-test"), "yes");
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), "first\n");
  assert.equal(exitCode, undefined, "the program is still running");
  feed.enqueue(new TextEncoder().encode("ping\n"));
  feed.close();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += new TextDecoder().decode(value);
  }
  assert.equal(rest, "got ping\n");
  assert.equal(exitCode, 0);
});

test("runCgi answers 500 when the program writes no header block", async () => {
  const res = await runCgi({ command: "sh", args: ["-c", "echo oops >&2; exit 3"], env: {}, body: null });
  assert.equal(res.status, 500);
});

test("git http-backend through runCgi advertises a real repository's refs", async () => {
  const root = mkdtempSync(path.join(tmpdir(), "paas-cgi-"));
  try {
    execFileSync("git", ["init", "-q", "--bare", "--initial-branch=main", path.join(root, "hello.git")]);
    const env = backendEnv({
      projectRoot: root,
      pathInfo: "/hello.git/info/refs",
      method: "GET",
      query: "service=git-upload-pack",
      contentType: null,
      contentEncoding: null,
      contentLength: null,
      remoteUser: "dev@example.com",
      remoteAddr: "127.0.0.1",
      hooksDir: null,
    });
    const res = await runCgi({ command: "git", args: ["http-backend"], env, body: null });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-git-upload-pack-advertisement");
    assert.match(await res.text(), /^001e# service=git-upload-pack\n/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("backendEnv installs the hook through GIT_CONFIG_* and passes the hook's settings", () => {
  const env = backendEnv({
    projectRoot: "/data/repos",
    pathInfo: "/hello.git/git-receive-pack",
    method: "POST",
    query: "",
    contentType: "application/x-git-receive-pack-request",
    contentEncoding: "gzip",
    contentLength: null,
    remoteUser: "dev@example.com",
    remoteAddr: "127.0.0.1",
    hooksDir: "/srv/paas/apps/web/git-hooks",
    hook: { internalUrl: "http://127.0.0.1:3000", app: "hello", pushToken: "push_x" },
  });
  assert.equal(env.GIT_CONFIG_COUNT, "1");
  assert.equal(env.GIT_CONFIG_KEY_0, "core.hooksPath");
  assert.equal(env.GIT_CONFIG_VALUE_0, "/srv/paas/apps/web/git-hooks");
  assert.equal(env.HTTP_CONTENT_ENCODING, "gzip");
  assert.equal(env.PAAS_PUSH_TOKEN, "push_x");
  // The branch policy is the server's: the hook is told nothing about branches.
  assert.equal(env.PAAS_DEPLOY_BRANCH, undefined);
  assert.equal(env.CONTENT_LENGTH, undefined);
});

test("hooksDir finds apps/web/git-hooks from the repo root and from apps/web", () => {
  const repoRoot = path.resolve(import.meta.dirname, "../..");
  const expected = path.join(repoRoot, "apps/web/git-hooks");
  assert.equal(hooksDir({}, repoRoot), expected);
  assert.equal(hooksDir({}, path.join(repoRoot, "apps/web")), expected);
  assert.equal(hooksDir({}, "/"), null);
  assert.equal(hooksDir({ PAAS_GIT_HOOKS_DIR: "/nonexistent" }, repoRoot), null);
});

test("parseGitRequest: smart protocol only, valid app names only", () => {
  const q = (s: string) => new URLSearchParams(s);
  assert.deepEqual(parseGitRequest(["hello.git", "info", "refs"], "GET", q("service=git-receive-pack")), {
    app: "hello",
    service: "git-receive-pack",
    pathInfo: "/hello.git/info/refs",
  });
  assert.deepEqual(parseGitRequest(["hello.git", "git-upload-pack"], "POST", q("")), {
    app: "hello",
    service: "git-upload-pack",
    pathInfo: "/hello.git/git-upload-pack",
  });
  const status = (r: ReturnType<typeof parseGitRequest>) => ("status" in r ? r.status : 200);
  assert.equal(status(parseGitRequest(["hello.git", "info", "refs"], "GET", q(""))), 403); // dumb protocol
  assert.equal(status(parseGitRequest(["hello.git", "HEAD"], "GET", q(""))), 404);
  assert.equal(status(parseGitRequest(["hello.git", "git-receive-pack"], "GET", q(""))), 405);
  assert.equal(status(parseGitRequest(["..", "x.git", "info", "refs"], "GET", q("service=git-upload-pack"))), 404);
  assert.equal(status(parseGitRequest(["Hello.git", "info", "refs"], "GET", q("service=git-upload-pack"))), 404);
  assert.equal(status(parseGitRequest(["hello", "info", "refs"], "GET", q("service=git-upload-pack"))), 404);
});
