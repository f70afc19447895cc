// The branch policy (unit), the pre-receive hook's rendering, and a real `git push`
// through the hook against a stand-in for the internal API that speaks the same
// protocol and decides with the server's own branch policy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { wantsColor } from "../../apps/web/git-hooks/pre-receive-lib.mjs";
import { decidePush, parseUpdates, type PushDecision } from "../../apps/web/src/server/git/branch-policy.ts";

const Z = "0".repeat(40);
const A = "a".repeat(40);
const B = "b".repeat(40);

const MAIN = { deployBranch: "main", previews: false };
const PREVIEWS = { deployBranch: "main", previews: true };

test("parseUpdates reads pre-receive's stdin and refuses what is not a ref update", () => {
  assert.deepEqual(parseUpdates(`${Z} ${A} refs/heads/main\n${A} ${B} refs/heads/dev\n\n`), [
    { oldSha: Z, newSha: A, ref: "refs/heads/main" },
    { oldSha: A, newSha: B, ref: "refs/heads/dev" },
  ]);
  assert.throws(() => parseUpdates(`${Z} nothex refs/heads/main`), /hex/);
  assert.throws(() => parseUpdates(`${Z} ${A}`), /ref/);
});

test("decidePush deploys the deploy branch, first push and force push alike", () => {
  const first = { oldSha: Z, newSha: A, ref: "refs/heads/main" };
  assert.deepEqual(decidePush([first], MAIN), { action: "deploy", update: first, branch: "main" });
  const force = { oldSha: B, newSha: A, ref: "refs/heads/main" };
  assert.deepEqual(decidePush([force], MAIN), { action: "deploy", update: force, branch: "main" });
  const custom = { oldSha: Z, newSha: A, ref: "refs/heads/production" };
  assert.deepEqual(decidePush([custom], { deployBranch: "production", previews: false }), { action: "deploy", update: custom, branch: "production" });
});

test("decidePush refuses other branches with the command to use", () => {
  assert.deepEqual(decidePush([{ oldSha: Z, newSha: A, ref: "refs/heads/feature" }], MAIN), {
    action: "refuse",
    refusals: ['only the "main" branch deploys; to deploy "feature" run: git push paas feature:main'],
  });
});

const refusals = (d: PushDecision) => (d.action === "refuse" ? d.refusals : []);

test("decidePush refuses deletes, tags, and rejects the whole push on any refusal", () => {
  assert.match(refusals(decidePush([{ oldSha: A, newSha: Z, ref: "refs/heads/main" }], MAIN))[0], /deleting the deploy branch/);
  assert.match(refusals(decidePush([{ oldSha: A, newSha: Z, ref: "refs/heads/old" }], MAIN))[0], /deleting refs\/heads\/old/);
  assert.match(refusals(decidePush([{ oldSha: Z, newSha: A, ref: "refs/tags/v1" }], MAIN))[0], /pushing refs\/tags\/v1/);
  const mixed = decidePush(
    [
      { oldSha: Z, newSha: A, ref: "refs/heads/main" },
      { oldSha: Z, newSha: B, ref: "refs/heads/feature" },
    ],
    MAIN,
  );
  assert.equal(mixed.action, "refuse", "nothing is built when the push is rejected");
  assert.equal(refusals(mixed).length, 1);
});

test("with previews, another branch deploys its preview, deleting it removes it, one branch at a time", () => {
  const feature = { oldSha: Z, newSha: A, ref: "refs/heads/feature-x" };
  assert.deepEqual(decidePush([feature], PREVIEWS), { action: "preview", update: feature, branch: "feature-x" });
  assert.deepEqual(decidePush([{ oldSha: A, newSha: Z, ref: "refs/heads/feature-x" }], PREVIEWS), { action: "destroy-preview", branch: "feature-x" });
  assert.match(refusals(decidePush([{ oldSha: A, newSha: Z, ref: "refs/heads/main" }], PREVIEWS))[0], /deleting the deploy branch/);
  const two = decidePush([feature, { oldSha: Z, newSha: B, ref: "refs/heads/main" }], PREVIEWS);
  assert.deepEqual(refusals(two), ["push one branch at a time: each branch deploys its own app"]);
  assert.match(refusals(decidePush([{ oldSha: Z, newSha: A, ref: "refs/tags/v1" }], PREVIEWS))[0], /pushing refs\/tags\/v1/);
});

test("colour only when the pusher asks for it (git push -o color)", () => {
  assert.equal(wantsColor({}), false);
  assert.equal(wantsColor({ GIT_PUSH_OPTION_COUNT: "1", GIT_PUSH_OPTION_0: "color" }), true);
  assert.equal(wantsColor({ GIT_PUSH_OPTION_COUNT: "2", GIT_PUSH_OPTION_0: "x", GIT_PUSH_OPTION_1: "colour=on" }), true);
  assert.equal(wantsColor({ GIT_PUSH_OPTION_COUNT: "1", GIT_PUSH_OPTION_0: "color=off" }), false);
});

/**
 * Pushes a one-commit repository to a bare repository whose pre-receive is our
 * hook, with the internal API played by a small server that answers `final`.
 */
async function pushThroughHook(final: Record<string, string>, branch = "main", internalUrl?: string) {
  const dir = mkdtempSync(path.join(tmpdir(), "paas-hook-"));
  const seen: { commit?: string; message?: string; token?: string; tarBytes: number; logToken?: string; query?: string } = { tarBytes: 0 };
  let decision: PushDecision | undefined;
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url!, "http://x");
    if (req.method === "POST" && url.pathname === "/internal/pushes") {
      let body = "";
      for await (const c of req) body += c;
      decision = decidePush(parseUpdates(body), MAIN);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(decision));
    } else if (req.method === "POST" && url.pathname === "/internal/builds") {
      // As the server does: the commit is the decided one, never the hook's say.
      if (decision?.action !== "deploy") return res.writeHead(409).end("{}");
      seen.commit = decision.update.newSha;
      seen.query = url.search;
      seen.message = url.searchParams.get("message")!;
      seen.token = req.headers["x-paas-push-token"] as string;
      for await (const c of req) seen.tarBytes += (c as Buffer).length;
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ buildId: "b1" }));
    } else if (url.pathname === "/internal/builds/b1/log") {
      seen.logToken = req.headers["x-paas-push-token"] as string;
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write(`${JSON.stringify({ id: "1-0", line: "-----> Node.js app detected" })}\n`);
      res.write(`${JSON.stringify({ id: "2-0", line: "       added 0 packages" })}\n`);
      res.end(`${JSON.stringify({ id: "3-0", ...final })}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const bare = path.join(dir, "hello.git");
    const work = path.join(dir, "work");
    const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" });
    execFileSync("git", ["init", "-q", "--bare", "--initial-branch=main", bare]);
    execFileSync("git", ["init", "-q", "--initial-branch", branch, work]);
    writeFileSync(path.join(work, "package.json"), '{"name":"hello","scripts":{"start":"node index.js"}}\n');
    git(work, "add", ".");
    git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "First commit\n\nbody");
    const sha = git(work, "rev-parse", "HEAD").trim();
    const hooks = path.resolve(import.meta.dirname, "../../apps/web/git-hooks");
    // Asynchronous spawn: this process's server must keep answering during the push.
    // (The local transport does not pass `git -c` settings to receive-pack, so
    // the bare repository carries the setting; the endpoint uses GIT_CONFIG_*.)
    git(bare, "config", "core.hooksPath", hooks);
    const child = spawn("git", ["push", bare, `${branch}:${branch}`], {
      cwd: work,
      env: {
        ...process.env,
        PAAS_INTERNAL_URL: internalUrl ?? `http://127.0.0.1:${port}`,
        PAAS_APP: "hello",
        PAAS_PUSH_TOKEN: "push_test",
      },
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const status = await new Promise<number | null>((r) => child.on("close", r));
    const push = { status, stderr };
    const moved = spawnSync("git", ["rev-parse", "--verify", "-q", `refs/heads/${branch}`], { cwd: bare, encoding: "utf8" });
    return { push, seen, sha, refAfter: moved.stdout.trim() };
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a real push: the hook sends the tree, prints the log, and accepts on success", async () => {
  const { push, seen, sha, refAfter } = await pushThroughHook({ status: "succeeded", url: "http://hello.localhost:8080/" });
  assert.equal(push.status, 0, push.stderr);
  assert.equal(seen.commit, sha);
  assert.equal(seen.message, "First commit");
  assert.deepEqual([...new URLSearchParams(seen.query).keys()], ["message"], "the hook names no branch, commit or ref to the build route");
  assert.equal(seen.token, "push_test");
  assert.equal(seen.logToken, "push_test");
  assert.ok(seen.tarBytes >= 1024, "a tar archive was uploaded");
  assert.match(push.stderr, /remote: -----> Build b1 queued/);
  assert.match(push.stderr, /remote: -----> Node\.js app detected/);
  assert.match(push.stderr, /remote:        added 0 packages/);
  assert.match(push.stderr, /remote: -----> Deployed to http:\/\/hello\.localhost:8080\//);
  assert.equal(refAfter, sha, "the branch moved");
});

test("a real push: a failed build rejects the push and the branch does not move", async () => {
  const { push, refAfter } = await pushThroughHook({ status: "failed", error: "npm install exited 1" });
  assert.notEqual(push.status, 0);
  assert.match(push.stderr, /remote:  !     Build failed: npm install exited 1/);
  assert.match(push.stderr, /remote:  !     Push rejected: nothing of it was deployed; what ran before keeps running/);
  assert.match(push.stderr, /pre-receive hook declined/);
  assert.equal(refAfter, "", "the branch was not created");
});

test("a real push of another branch is refused with the command to use", async () => {
  const { push, seen, refAfter } = await pushThroughHook({ status: "succeeded" }, "feature");
  assert.notEqual(push.status, 0);
  assert.match(push.stderr, /git push paas feature:main/);
  assert.equal(seen.commit, undefined, "no build was requested");
  assert.equal(refAfter, "");
});

test("a real push while the internal API is down fails with a clear message", async () => {
  // Port 9 (discard) on loopback: nothing listens, the connection is refused.
  const { push, refAfter } = await pushThroughHook({ status: "succeeded" }, "main", "http://127.0.0.1:9");
  assert.notEqual(push.status, 0);
  assert.match(push.stderr, /the platform's API at http:\/\/127\.0\.0\.1:9 cannot be reached \(ECONNREFUSED\)/);
  assert.equal(refAfter, "");
});
