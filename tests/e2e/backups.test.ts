/**
 * Backups end to end, on a real push with a real volume: files of random bytes captured (the
 * app's replica frozen, its pid and start time unchanged), changed, restored in place and
 * compared byte for byte; restored --to a new volume; downloaded as a tar holding the same
 * bytes; a capture into a repository restic cannot write (its locks) reported FAILED with its reason and
 * what to do (CLI, list, the app's log stream) with the app thawed; a restore from a repository that
 * lost its snapshots fails the same way and leaves the volume as it was; each capture and restore
 * says its end in `paas logs`; a schedule is a BullMQ job scheduler whose jobs keep the last N, and
 * a scheduled capture of a volume that is gone, or one a dead worker left running, is listed FAILED.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { AgentClient, QUEUE_DEPLOYS, type ContainerInfo, type DeployJobData } from "@paas/shared";
import type { AppLogEntry } from "@paas/shared/app-log";
import { createDb } from "@paas/db";
import { ABANDONED } from "../../worker/src/backups/report.ts";
import { ROOT, fixtureRepo, pushApp, sh, startPlatform, viaRouter, type Platform } from "../helpers/platform.ts";

let p: Platform;
let agent: AgentClient;
let repo: string;
const APP = "bkup";
/** What the volume holds at the capture: relative path -> bytes. */
const original = new Map<string, Buffer>();

const paas = async (args: string[]) => {
  const r = await sh(path.join(ROOT, "apps/cli/bin/paas"), args, { cwd: ROOT, env: { ...p.env, PAAS_URL: p.webUrl, PAAS_TOKEN: p.adminToken } });
  if (r.code !== 0) console.log(`paas ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r;
};

async function web1(): Promise<ContainerInfo> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const list = (await agent.containers()).filter((c) => c.labels["paas.app"] === APP && c.labels["paas.process"] === "web" && c.state === "running");
    if (list.length === 1) return list[0]!;
    if (Date.now() > deadline) assert.fail(`one web replica runs: ${list.map((c) => c.name).join(", ")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function execIn(id: string, cmd: string[], input?: Buffer): Promise<{ code: number; out: string }> {
  const proc = await agent.exec(id, { cmd });
  let out = "";
  proc.stdout.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr.on("data", (c: Buffer) => (out += c.toString()));
  // In pieces: an exec frame is at most 1 MB.
  for (let i = 0; input && i < input.length; i += 256 * 1024) proc.stdin.write(input.subarray(i, i + 256 * 1024));
  proc.stdin.end();
  return { code: await proc.exit, out };
}

/** Every file under `dir`, relative path -> bytes. */
function readTree(dir: string, rel = ""): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) for (const [k, v] of readTree(dir, r)) m.set(k, v);
    else m.set(r, fs.readFileSync(path.join(dir, r)));
  }
  return m;
}

function assertSameTree(actual: Map<string, Buffer>, expected: Map<string, Buffer>, what: string) {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: the same files`);
  for (const [k, v] of expected) assert.ok(actual.get(k)!.equals(v), `${what}: ${k} has the same ${v.length} bytes`);
}

/** The host pid's start time in clock ticks (/proc/PID/stat field 22): a restart changes it. */
const procStart = (pid: number) => fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19];

const volDir = async (name: string) => (await agent.volume(`${APP}_${name}`)).path!;
const repoDir = () => path.join(p.dataDir, "backups", APP, "repo");
const backups = async () => JSON.parse((await paas(["backups", "-a", APP, "--json"])).stdout) as { schedule: { cron: string; keep: number | null } | null; backups: { id: string; status: string; error: string | null; sizeBytes: number | null; pausedMs: number | null; volume: string }[] };

/** The platform's backup lines in the app's log stream, as `paas logs` gives them, oldest first. */
async function backupLog(): Promise<string[]> {
  const r = await paas(["logs", "-a", APP, "--source", "platform", "--type", "backup", "-n", "200", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AppLogEntry)
    .map((e) => {
      assert.deepEqual([e.src, e.type], ["platform", "backup"]);
      return e.line;
    });
}

describe("backups", { timeout: 20 * 60_000 }, () => {
  before(async () => {
    p = await startPlatform("bkups1", 5600);
    agent = new AgentClient(`http://127.0.0.1:${p.env.PAAS_AGENT_PORT}`);
    assert.equal((await paas(["apps:create", APP])).code, 0);
    repo = await fixtureRepo("node-hello");
    const r = await pushApp(p, APP, repo);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal((await paas(["volumes:add", "data", "/data", "--size", "64M", "-a", APP])).code, 0);
    // Files of random bytes written by the app itself (its user, through its mount).
    original.set("a.bin", randomBytes(3 * 2 ** 20));
    original.set("sub/b.bin", randomBytes(2 ** 20 + 17));
    original.set("sub/deeper/c.txt", Buffer.from("known text\n"));
    const c = await web1();
    for (const [rel, bytes] of original) {
      const w = await execIn(c.id, ["sh", "-c", `mkdir -p "$(dirname /data/${rel})" && cat > /data/${rel}`], bytes);
      assert.equal(w.code, 0, w.out);
    }
    assertSameTree(readTree(await volDir("data")), original, "written");
  });
  after(async () => {
    await p?.stop();
  });

  let id = "";
  test("capture: a snapshot of the volume, the app's replica frozen meanwhile and not restarted", async () => {
    const c = await web1();
    const info = await agent.container(c.id);
    const before = { pid: info.pid!, startedAt: info.startedAt, start: procStart(info.pid!) };
    const r = await paas(["backups:capture", "-a", APP, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    id = (JSON.parse(r.stdout) as { id: string }).id;
    assert.match(id, /^[a-z0-9]{20,}$/);
    const after = await agent.container(c.id);
    assert.equal(after.state, "running");
    assert.equal(after.pid, before.pid, "same pid");
    assert.equal(after.startedAt, before.startedAt, "same start time (agent)");
    assert.equal(procStart(after.pid!), before.start, "same start time (/proc)");
    assert.match((await viaRouter(p, APP)).body, /hello/);
    const list = await backups();
    const b = list.backups.find((x) => x.id === id)!;
    assert.equal(b.status, "succeeded");
    assert.equal(b.volume, "data");
    const total = [...original.values()].reduce((n, v) => n + v.length, 0);
    assert.equal(b.sizeBytes, total);
    assert.ok(b.pausedMs !== null && b.pausedMs >= 0);
    console.log(`capture of ${total} bytes: the app was paused ${b.pausedMs} ms`);
    // The repository is restic's, encrypted: no file of it holds the known text.
    const plain = sh("grep", ["-r", "-l", "known text", repoDir()]);
    assert.equal((await plain).code, 1, "no plaintext in the repository");
    const human = await paas(["backups", "-a", APP]);
    assert.match(human.stdout, new RegExp(`${id}\\s+data\\s+.*4\\.0 MB\\s+ok`));
    // One line in the app's log stream, as a deploy's end is.
    const said = (await backupLog()).filter((l) => l.includes(id));
    assert.equal(said.length, 1, said.join("\n"));
    assert.match(said[0]!, new RegExp(`^Backup ${id} of volume data: snapshot [0-9a-f]{8}, 4\\.0 MB \\([\\d.]+ [KM]B new\\); the app was paused ${b.pausedMs} ms$`));
  });

  test("restore in place: changed files come back byte for byte, added ones go", async () => {
    const c = await web1();
    const pid = (await agent.container(c.id)).pid;
    const w = await execIn(c.id, ["sh", "-c", "head -c 1000 /dev/urandom > /data/a.bin; rm -r /data/sub/deeper; echo new > /data/added"]);
    assert.equal(w.code, 0, w.out);
    const r = await paas(["backups:restore", id, "-a", APP]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Restored backup .* into volume data; the app was paused \d+ ms/);
    assertSameTree(readTree(await volDir("data")), original, "restored in place");
    assert.equal((await agent.container(c.id)).pid, pid, "not restarted");
    // The app sees it, as its own user.
    const seen = await execIn(c.id, ["sh", "-c", "cat /data/sub/deeper/c.txt; stat -c %u /data/a.bin"]);
    assert.equal(seen.out, "known text\n1000\n");
    assert.match((await backupLog()).at(-1)!, new RegExp(`^Restored backup ${id} \\(data\\) into volume data; the app was paused \\d+ ms$`));
  });

  test("restore --to a new volume, which volumes:add then mounts", async () => {
    const r = await paas(["backups:restore", id, "--to", "copy", "-a", APP]);
    assert.equal(r.code, 0, r.stderr);
    assertSameTree(readTree(await volDir("copy")), original, "restored to copy");
    const again = await paas(["backups:restore", id, "--to", "copy", "-a", APP]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /a volume copy of bkup exists on the host already: pick another name/);
    assert.equal((await paas(["volumes:add", "copy", "/copy", "--size", "64M", "-a", APP])).code, 0);
    const seen = await execIn((await web1()).id, ["cat", "/copy/sub/deeper/c.txt"]);
    assert.equal(seen.out, "known text\n");
  });

  test("download: a tar with the same bytes, through the API only, authorized", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bkup-dl-"));
    try {
      const file = path.join(tmp, "b.tar");
      const r = await paas(["backups:download", id, "-a", APP, "-o", file]);
      assert.equal(r.code, 0, r.stderr);
      const x = await sh("tar", ["-xf", file, "-C", tmp]);
      assert.equal(x.code, 0, x.stderr);
      assertSameTree(readTree(path.join(tmp, "data")), original, "downloaded");
      const anon = await fetch(`${p.webUrl}/api/backups/${id}/download?app=${APP}`);
      assert.equal(anon.status, 401);
      const bad = await paas(["backups:download", "nosuchbackup0", "-a", APP, "-o", file]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /bkup has no backup nosuchbackup0/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test("a failing backup (restic cannot lock the repository) is FAILED with its reason, loudly; the app is thawed", async () => {
    // restic cannot write its lock: its locks/ directory is a file. (A read-only bind mount of
    // the repository would not do: a bind mount of it made for the container is writable.)
    const locks = path.join(repoDir(), "locks");
    fs.renameSync(locks, `${locks}.kept`);
    fs.writeFileSync(locks, "");
    try {
      const r = await paas(["backups:capture", "--volume", "data", "-a", APP]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /backup \w+ of bkup's volume data FAILED: restic backup failed: .*unable to create lock/i);
      assert.match(r.stderr, /\nThe backup repository is locked or cannot be written: .*`restic unlock`\. Then run `paas backups:capture -a bkup` again\./);
    } finally {
      fs.rmSync(locks);
      fs.renameSync(`${locks}.kept`, locks);
    }
    const list = await backups();
    assert.equal(list.backups[0]!.status, "failed");
    assert.match(list.backups[0]!.error!, /unable to create lock/i);
    const human = await paas(["backups", "-a", APP]);
    assert.match(human.stdout, /FAILED: restic backup failed: .*unable to create lock/i);
    assert.match(human.stdout, /1 backup FAILED/);
    assert.equal((await agent.container((await web1()).id)).state, "running", "thawed");
    assert.match((await viaRouter(p, APP)).body, /hello/);
    // The app's log stream says it too: the backup, restic's reason, what to do.
    const failedId = list.backups[0]!.id;
    const line = (await backupLog()).find((l) => l.includes(failedId));
    assert.match(line ?? "(none)", new RegExp(`^Backup ${failedId} of bkup's volume data FAILED: restic backup failed: .*unable to create lock.* The backup repository is locked or cannot be written: .*Then run \`paas backups:capture -a bkup\` again\.$`, "i"));
    const text = await paas(["logs", "-a", APP, "--grep", failedId]);
    assert.match(text.stdout, new RegExp(`^\\S+ paas\\[backup\\]: Backup ${failedId} .*FAILED`, "m"));
  });

  test("a restore from a repository that lost its snapshots FAILS loudly and leaves the volume as it was", async () => {
    const before = readTree(await volDir("data"));
    const snaps = path.join(repoDir(), "snapshots");
    fs.renameSync(snaps, `${snaps}.kept`);
    fs.mkdirSync(snaps);
    let r;
    try {
      r = await paas(["backups:restore", id, "-a", APP]);
    } finally {
      fs.rmSync(snaps, { recursive: true });
      fs.renameSync(`${snaps}.kept`, snaps);
    }
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`restore of backup ${id} into volume data FAILED: reading the snapshot \\(restic cat snapshot\\) failed: .*no matching ID found`));
    assert.match(r.stderr, new RegExp(`\\nVolume data is unchanged\\. Run the restore again \\(paas backups:restore ${id} -a bkup\\)`));
    assertSameTree(readTree(await volDir("data")), before, "the volume after a failed restore");
    assert.match((await backupLog()).at(-1)!, new RegExp(`^Restore of backup ${id} into volume data FAILED: .*no matching ID found.* Volume data is unchanged\\.`));
    assert.equal((await agent.container((await web1()).id)).state, "running", "thawed");
  });

  test("schedule: a BullMQ job scheduler; its jobs keep the last N (restic forget --prune)", async () => {
    const bad = await paas(["backups:schedule", "every day", "-a", APP, "--volume", "data"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /"every day" is not a cron schedule/);
    const r = await paas(["backups:schedule", "0 3 * * *", "--keep", "2", "--volume", "data", "-a", APP]);
    assert.equal(r.code, 0, r.stderr);
    const redis = new Redis(`redis://127.0.0.1:${p.env.PAAS_REDIS_PORT}`, { maxRetriesPerRequest: null });
    const queue = new Queue<DeployJobData>(QUEUE_DEPLOYS, { connection: redis });
    const eventsRedis = redis.duplicate();
    const events = new QueueEvents(QUEUE_DEPLOYS, { connection: eventsRedis });
    try {
      const scheds = (await queue.getJobSchedulers()).filter((s) => s.key.startsWith("backup-schedule:"));
      assert.equal(scheds.length, 1);
      assert.equal(scheds[0]!.pattern, "0 3 * * *");
      const data = scheds[0]!.template!.data as DeployJobData;
      assert.deepEqual({ ...data, appId: "-" }, { kind: "backup", appId: "-", op: "capture", scheduled: true, volume: "data", keep: 2 });
      // Its next job is waiting for 03:00 UTC.
      assert.ok(scheds[0]!.next! > Date.now());
      // A backup a worker that died left "running": the next capture of the app says it FAILED.
      const db = createDb(`file:${path.join(p.dataDir, "paas.db")}`);
      const stale = await db.backup.create({ data: { appId: data.appId, volume: "data", scheduled: true } }).finally(() => db.$disconnect());
      // Three runs of the job it makes, now (not waiting for 03:00).
      await events.waitUntilReady();
      for (let i = 0; i < 3; i++) {
        const job = await queue.add("backup", data);
        const res = (await job.waitUntilFinished(events, 120_000)) as { ok: boolean; error?: string; log: string[] };
        assert.ok(res.ok, res.error);
      }
      // A scheduled capture of a volume that is gone: nobody waits for its answer, so it is a
      // FAILED row and a line in the app's log.
      const gone = await queue.add("backup", { ...data, volume: "gone" } as DeployJobData);
      const lost = (await gone.waitUntilFinished(events, 120_000)) as { ok: boolean; error?: string };
      assert.equal(lost.ok, false);
      assert.match(lost.error ?? "", /^scheduled backup \w+ of bkup FAILED: bkup has no volume gone/);
      const list = await backups();
      assert.deepEqual([list.backups[0]!.volume, list.backups[0]!.status], ["gone", "failed"]);
      const abandoned = list.backups.find((b) => b.id === stale.id);
      assert.deepEqual([abandoned?.status, abandoned?.error], ["failed", ABANDONED]);
      assert.match((await backupLog()).at(-1)!, new RegExp(`^Scheduled backup ${list.backups[0]!.id} of bkup FAILED: bkup has no volume gone.* Schedule the volume to back up .*or stop the schedule \\(paas backups:unschedule -a bkup\\)\\.$`));
      assert.equal(list.schedule?.cron, "0 3 * * *");
      assert.equal(list.schedule?.keep, 2);
      const ok = list.backups.filter((b) => b.status === "succeeded" && b.volume === "data");
      assert.equal(ok.length, 2, "the last 2 kept");
      const snaps = await sh("restic", ["-r", repoDir(), "--password-file", path.join(p.dataDir, "backups", APP, "key", "password"), "--no-cache", "snapshots", "--json"]);
      assert.equal(snaps.code, 0, snaps.stderr);
      assert.equal((JSON.parse(snaps.stdout) as unknown[]).length, 2, "restic keeps 2 snapshots");
      assert.equal((await paas(["backups:unschedule", "-a", APP])).code, 0);
      assert.equal((await queue.getJobSchedulers()).filter((s) => s.key.startsWith("backup-schedule:")).length, 0);
    } finally {
      await events.close();
      await queue.close();
      eventsRedis.disconnect();
      redis.disconnect();
    }
  });

  test("apps:destroy takes the app's volumes, schedule and backup repository along", async () => {
    assert.equal((await paas(["backups:schedule", "0 3 * * *", "--volume", "data", "-a", APP])).code, 0);
    assert.ok(fs.existsSync(repoDir()));
    const r = await paas(["apps:destroy", APP, "--confirm", APP]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!fs.existsSync(path.join(p.dataDir, "backups", APP)), "repository and key removed");
    assert.deepEqual((await agent.volumes()).filter((v) => v.labels["paas.app"] === APP), []);
    const redis = new Redis(`redis://127.0.0.1:${p.env.PAAS_REDIS_PORT}`, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_DEPLOYS, { connection: redis });
    try {
      assert.equal((await queue.getJobSchedulers()).length, 0, "no schedule left");
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });
});
