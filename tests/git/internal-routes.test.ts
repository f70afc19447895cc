/**
 * The internal API's routes as the pre-receive hook and the worker call them, on a migrated
 * database and a real Redis (push tokens, the build queue): the server decides the branch
 * policy itself and takes neither a branch nor a commit from the hook, and a build's source
 * is served to a worker token only and removed when the worker says the build is final.
 * The test closes its Redis connections (the queue's too), so its process exits when done.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import { freshDataDir } from "../../apps/web/src/server/testing/platform.ts";
import { startRedis } from "../helpers/redis.ts";

const redisServer = await startRedis();
process.env.PAAS_REDIS_URL = redisServer.url;
process.env.PAAS_WORKER_TOKEN = "worker-token-for-the-route-test";
const dataDir = freshDataDir("paas-internal-routes-");
const { db } = await import("@paas/db");
const { buildSourcePath } = await import("@paas/shared");
const routes = await import("../../apps/web/src/server/git/internal-builds.ts");
const { createPushToken } = await import("../../apps/web/src/server/git/push-tokens.ts");
const { buildQueue } = await import("../../apps/web/src/server/queue.ts");
const { redis } = await import("../../apps/web/src/server/redis.ts");

const Z = "0".repeat(40);
const MAIN_SHA = "a".repeat(40);
const FEATURE_SHA = "b".repeat(40);
const BASE = "http://127.0.0.1/internal";

let app: { id: string; name: string };
let userId: string;

before(async () => {
  const team = await db.team.create({ data: { name: "routes" } });
  userId = (await db.user.create({ data: { email: "pusher@example.com" } })).id;
  app = await db.app.create({ data: { name: "shop", teamId: team.id } });
});

after(async () => {
  // Without these the queue's and the shared ioredis connections keep the process alive.
  // (BullMQ leaves a connection it was given open on close().)
  const queue = buildQueue();
  await queue.close();
  (queue.opts.connection as import("ioredis").Redis).disconnect();
  redis().disconnect();
  await db.$disconnect();
  await redisServer.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const pushToken = () => createPushToken({ appId: app.id, app: app.name, userId });

const decide = (token: string, updates: string) =>
  routes.decidePushFromHook(new Request(`${BASE}/pushes`, { method: "POST", headers: { "x-paas-push-token": token }, body: updates }));

/** What a hook that lies would send: a branch and commit of its own in the query. */
const createBuild = (token: string, tarball: Uint8Array<ArrayBuffer> = new Uint8Array(1024)) =>
  routes.createBuildFromPush(
    new Request(`${BASE}/builds?message=${encodeURIComponent("the subject\nthe body")}`, {
      method: "POST",
      headers: { "x-paas-push-token": token, "content-type": "application/x-tar" },
      body: tarball,
    }),
  );

const buildsOfApp = () => db.build.findMany({ where: { appId: app.id }, orderBy: { createdAt: "asc" } });

describe("the branch policy at POST /internal/pushes and /internal/builds", () => {
  test("a push of another branch is refused by the server, and no build can be made from it", async () => {
    const token = await pushToken();
    const res = await decide(token, `${Z} ${FEATURE_SHA} refs/heads/feature\n`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      action: "refuse",
      refusals: ['only the "main" branch deploys; to deploy "feature" run: git push paas feature:main'],
    });
    // A hook that ignores the refusal and asks for a build anyway gets none.
    const build = await createBuild(token);
    assert.equal(build.status, 409);
    assert.match((await build.json()).error, /not decided as a deploy/);
    assert.deepEqual(await buildsOfApp(), []);
  });

  test("a build before any decision is refused", async () => {
    const res = await createBuild(await pushToken());
    assert.equal(res.status, 409);
    assert.deepEqual(await buildsOfApp(), []);
  });

  test("a push is decided once: a second decision for the same token does not replace the first", async () => {
    const token = await pushToken();
    assert.equal((await decide(token, `${Z} ${FEATURE_SHA} refs/heads/feature\n`)).status, 200);
    const again = await decide(token, `${Z} ${MAIN_SHA} refs/heads/main\n`);
    assert.equal(again.status, 409);
    assert.equal((await createBuild(token)).status, 409, "still refused: the first decision stands");
    assert.deepEqual(await buildsOfApp(), []);
  });

  test("the deploy branch makes one build, of the commit the server decided", async () => {
    const token = await pushToken();
    const res = await decide(token, `${Z} ${MAIN_SHA} refs/heads/main\n`);
    assert.equal((await res.json()).action, "deploy");
    const created = await createBuild(token);
    assert.equal(created.status, 201);
    const { buildId } = (await created.json()) as { buildId: string };
    const [build] = await buildsOfApp();
    assert.equal(build.id, buildId);
    assert.equal(build.commit, MAIN_SHA);
    assert.equal(build.message, "the subject");
    assert.equal(build.status, "pending");
    assert.ok(await buildQueue().getJob(buildId), "the build is queued");
    assert.equal((await createBuild(token)).status, 409, "one build per push");
    assert.equal((await buildsOfApp()).length, 1);
  });

  test("a wrong or missing push token is refused and decides nothing", async () => {
    for (const token of ["push_not-a-real-token", ""]) {
      assert.equal((await decide(token, `${Z} ${MAIN_SHA} refs/heads/main\n`)).status, 401);
      assert.equal((await createBuild(token)).status, 401);
    }
    assert.equal((await buildsOfApp()).length, 1);
  });
});

describe("a build's source at /internal/builds/<id>/source", () => {
  const source = (id: string, method: "GET" | "DELETE", token?: string) => {
    const req = new Request(`${BASE}/builds/${id}/source`, { method, headers: token ? { "x-paas-worker-token": token } : {} });
    return method === "GET" ? routes.buildSourceResponse(req, id) : routes.deleteBuildSourceResponse(req, id);
  };

  test("is served to the worker token only, and removed once the worker is done with it", async () => {
    const token = await pushToken();
    await decide(token, `${MAIN_SHA} ${"c".repeat(40)} refs/heads/main\n`);
    const tarball = new Uint8Array(3 * 512).fill(7);
    const { buildId } = (await (await createBuild(token, tarball)).json()) as { buildId: string };
    const file = buildSourcePath(dataDir, buildId);
    assert.equal(path.dirname(file), path.join(dataDir, "sources"));

    assert.equal((await source(buildId, "GET")).status, 401);
    assert.equal((await source(buildId, "GET", "wrong")).status, 401);
    const got = await source(buildId, "GET", process.env.PAAS_WORKER_TOKEN);
    assert.equal(got.status, 200);
    assert.deepEqual(new Uint8Array(await got.arrayBuffer()), tarball);

    assert.equal((await source(buildId, "DELETE")).status, 401);
    assert.equal((await source(buildId, "DELETE", token)).status, 401, "a push token is not a worker token");
    assert.ok(existsSync(file), "a refused delete leaves the source");
    assert.equal((await source(buildId, "DELETE", process.env.PAAS_WORKER_TOKEN)).status, 204);
    assert.equal(existsSync(file), false);
    assert.equal((await source(buildId, "GET", process.env.PAAS_WORKER_TOKEN)).status, 404);
    assert.equal((await source(buildId, "DELETE", process.env.PAAS_WORKER_TOKEN)).status, 204, "gone already is not an error");
    assert.equal((await source("../paas", "DELETE", process.env.PAAS_WORKER_TOKEN)).status, 400);
  });
});
