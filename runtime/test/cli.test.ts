/**
 * The operator CLI, run as the real bin (runtime/bin/paas-runtime) against its own data
 * dir, bridge, subnet and cgroup root: every test twice, in the operator's own process with
 * --local (PAAS_RUNTIME_LOCAL=1: recovery, no agent) and through an agent on that data dir
 * (its socket, native/client.c; exec, cp, export, import, save and load over its HTTP API),
 * with the same expectations. Then what only the agent's path has: signals, hang-ups, a
 * terminal for exec -it, --local refused while the agent runs, and no agent at all.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Runtime } from "../src/containers.ts";
import { Layout } from "../src/paths.ts";
import { cleanupRuntime, freePort, startAgent } from "./helpers.ts";

const bin = path.resolve(import.meta.dirname, "../bin/paas-runtime");
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-cli-test-"));
const env = { ...process.env, PAAS_DATA_DIR: dataDir, PAAS_BRIDGE: "paastcli0", PAAS_SUBNET: "10.99.45.0/24", PAAS_CGROUP_ROOT: "paas-test-cli" };
const rt = new Runtime({ dataDir, bridge: env.PAAS_BRIDGE, subnet: env.PAAS_SUBNET, cgroupRoot: env.PAAS_CGROUP_ROOT });

/** Which path the bin takes: its own process, or the agent's (when one listens). */
let mode: "local" | "agent" = "local";
const binEnv = () => (mode === "local" ? { ...env, PAAS_RUNTIME_LOCAL: "1" } : env);

function cli(args: string[], input?: Buffer | string) {
  if (process.env.CLI_TRACE) console.error(args.join(" "), new Date().toISOString());
  const r = spawnSync(bin, args, { env: binEnv(), input, encoding: "utf8", maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

before(async () => {
  await rt.images.ensureStacks();
});
after(async () => {
  await cleanupRuntime(rt);
});

/** The same tests for both paths. */
function commonTests() {
  test("run --rm prints the output and exits with the container's code; flags reach the container", () => {
    const r = cli(["run", "--rm", "--network", "none", "-e", "A=1", "--memory", "32m", "--cpus", "0.5", "--pids-limit", "20", "stack/busybox", "sh", "-c", "echo $A; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || true; exit 3"]);
    assert.equal(r.code, 3, r.err);
    assert.equal(r.out.split("\n")[0], "1");
    assert.deepEqual(rt.list(), [], "--rm removed it");
  });

  test("run exits 137 when the memory limit killed the container", () => {
    const r = cli(["run", "--rm", "--network", "none", "--memory", "16m", "stack/busybox", "sh", "-c", 'x=0123456789abcdef; while true; do x="$x$x"; done']);
    assert.equal(r.code, 137);
    assert.match(r.err, /out of memory \(limit 16m\)/);
  });

  test("clear errors: a limit that is not a number, a bad image name, a missing image or container", () => {
    let r = cli(["run", "--memory", "lots", "stack/busybox", "true"]);
    assert.equal(r.code, 125);
    assert.match(r.err, /invalid --memory "lots": use a number with k, m or g/);
    r = cli(["run", "--cpus", "many", "stack/busybox", "true"]);
    assert.match(r.err, /invalid --cpus "many"/);
    r = cli(["run", "--pids-limit", "1.5", "stack/busybox", "true"]);
    assert.match(r.err, /invalid --pids-limit "1.5"/);
    r = cli(["run", "Bad/Image", "true"]);
    assert.equal(r.code, 125);
    assert.match(r.err, /invalid image name "Bad\/Image"/);
    r = cli(["run", "no/such:image", "true"]);
    assert.match(r.err, /no image "no\/such:image" on this host/);
    r = cli(["logs", "nosuchcontainer"]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /no container "nosuchcontainer"/);
    r = cli(["tag", "stack/busybox", "NOT valid"]);
    assert.match(r.err, /bad image name/);
    assert.deepEqual(rt.list(), [], "nothing was made");
  });

  test("detached: ps, exec, top, stats, logs, kill, wait, inspect, rm", async () => {
    const id = cli(["run", "-d", "--name", "web", "--network", "none", "stack/node", "sh", "-c", "echo $$ > /tmp/pid; echo started; sleep 600 & wait"]).out;
    assert.match(id, /^[0-9a-f]{32}$/);
    const ps = cli(["ps"]).out;
    assert.match(ps, /web\s+stack\/node\s+up since/);
    assert.equal(await firstLine(id), "started"); // its pid file is written by then
    const ex = cli(["exec", "-e", "X=2", "web", "sh", "-c", "echo $X $(id -u) $HOME $(cat /tmp/pid) $(hostname)"]);
    assert.equal(ex.code, 0, ex.err);
    assert.equal(ex.out, "2 1000 /home/app 1 web", "container's namespaces (pid 1, hostname), uid and env");
    assert.equal(cli(["exec", "web", "sh", "-c", "exit 7"]).code, 7);
    // cp both ways with a running container: into its root as its user, and out again
    const cpIn = path.join(dataDir, "cp-in.txt");
    fs.writeFileSync(cpIn, "into a running one\n");
    assert.equal(cli(["cp", cpIn, "web:/tmp"]).code, 0);
    assert.equal(cli(["exec", "web", "sh", "-c", "cat /tmp/cp-in.txt; stat -c %u /tmp/cp-in.txt"]).out, "into a running one\n1000");
    assert.equal(cli(["cp", "web:/tmp/cp-in.txt", path.join(dataDir, "cp-out.txt")]).code, 0);
    assert.equal(fs.readFileSync(path.join(dataDir, "cp-out.txt"), "utf8"), "into a running one\n");
    assert.match(cli(["top", "web"]).out, /sleep 600/);
    const stats = JSON.parse(cli(["stats", "--json", "web"]).out);
    assert.equal(stats[0].memoryLimitBytes, 256 * 1024 * 1024);
    assert.ok(stats[0].memoryBytes > 0 && stats[0].pids === 2, `sh and its sleep: ${JSON.stringify(stats)}`);
    assert.equal(cli(["logs", "web"]).out, "started");
    assert.equal(JSON.parse(cli(["inspect", "web"]).out)[0].state, "running");
    assert.equal(JSON.parse(cli(["inspect", "stack/node"]).out)[0].ociConfig.config.WorkingDir, "/app");
    cli(["kill", "-s", "TERM", "web"]); // pid 1 without a handler ignores TERM
    assert.equal(rt.get("web").state, "running");
    assert.equal(cli(["kill", "web"]).code, 0);
    assert.equal(cli(["wait", "web"]).out, "137");
    assert.equal(cli(["rm", "web"]).code, 0);
    assert.match(cli(["exec", "web", "true"]).err, /no container "web"/);
  });

  test("a container another process started: logs -f, wait and stop here wake on its files, not on a poll", async () => {
    // line1, then 2.5 s of silence: a follower that only re-checked every second (dirwatch's
    // safety timer) would see the exit up to 1 s late; woken by status.json, at once
    const id = cli(["run", "-d", "--network", "none", "stack/busybox", "sh", "-c", "echo line1; sleep 2.5; echo line2"]).out;
    const lines: string[] = [];
    for await (const l of rt.logLines(id, { follow: true })) lines.push(JSON.parse(l).line);
    const lag = Date.now() - fs.statSync(path.join(new Layout(dataDir).container(id), "status.json")).mtimeMs;
    assert.deepEqual(lines, ["line1", "line2"]);
    assert.ok(lag < 400, `follow ended ${lag.toFixed(0)} ms after the exit`);
    assert.equal((await rt.wait(id)).exitCode, 0);
    assert.equal(cli(["rm", id]).code, 0);

    const svc = cli(["run", "-d", "--network", "none", "stack/busybox", "sh", "-c", "trap 'exit 3' TERM; echo trapped; sleep 600 & wait"]).out;
    assert.equal(await firstLine(svc), "trapped"); // its TERM handler is set by then
    const t = performance.now();
    const waiting = rt.wait(svc);
    await rt.stop(svc, 10);
    assert.equal((await waiting).exitCode, 3);
    assert.ok(performance.now() - t < 2000, `stop + wait took ${(performance.now() - t).toFixed(0)} ms`);
    await rt.remove(svc);
  });

  test("create/start -a, cp both ways, diff, commit, history, export, import, save/load, rmi, prune", () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "paas-cli-scratch-"));
    try {
      const id = cli(["create", "--name", "job", "--network", "none", "stack/busybox", "sh", "-c", "cat /in/msg > /out.txt; rm /bin/vi"]).out;
      fs.writeFileSync(path.join(scratch, "msg"), "hello cp\n");
      assert.equal(cli(["cp", path.join(scratch, "msg"), "job:/in"]).code, 0);
      assert.equal(cli(["start", "-a", id]).code, 0);
      const diff = cli(["diff", "job"]).out.split("\n");
      for (const l of ["A /out.txt", "D /bin/vi", "A /in"]) assert.ok(diff.includes(l), `${l} in ${diff}`);
      assert.equal(cli(["cp", "job:/out.txt", path.join(scratch, "got.txt")]).code, 0);
      assert.equal(fs.readFileSync(path.join(scratch, "got.txt"), "utf8"), "hello cp\n");
      const img = cli(["commit", "-c", 'CMD ["cat", "/out.txt"]', "job", "test/job:v1"]).out;
      assert.match(img, /^sha256:/);
      assert.match(cli(["history", "test/job:v1"]).out, /commit job: sh -c cat \/in\/msg/);
      assert.equal(cli(["run", "--rm", "--network", "none", "test/job:v1"]).out, "hello cp");

      // export a container's rootfs, import it as an image, run it
      const tarFile = path.join(scratch, "rootfs.tar");
      assert.equal(cli(["export", "-o", tarFile, "job"]).code, 0);
      const names = spawnSync("tar", ["-tf", tarFile], { encoding: "utf8" }).stdout.split("\n");
      assert.ok(names.includes("./out.txt") && names.includes("./bin/busybox") && !names.includes("./bin/vi"));
      assert.match(cli(["import", "-c", "CMD cat /out.txt", tarFile, "test/flat:1"]).out, /^sha256:/);
      assert.equal(cli(["run", "--rm", "--network", "none", "test/flat:1"]).out, "hello cp");

      // save -> rmi -> load gives the same id
      const saved = path.join(scratch, "save.tar");
      assert.equal(cli(["save", "-o", saved, "test/job:v1"]).code, 0);
      assert.equal(cli(["rm", "job"]).code, 0);
      cli(["create", "--name", "holder", "--network", "none", "test/job:v1"]);
      assert.match(cli(["rmi", "test/job:v1"]).err, /used by container\(s\) holder/);
      assert.equal(cli(["rm", "holder"]).code, 0);
      assert.match(cli(["rmi", "test/job:v1"]).out, /Untagged: test\/job:v1\nDeleted: sha256:/);
      assert.match(cli(["load", "-i", saved]).out, new RegExp(`Loaded image: test/job:v1 \\(${img.slice(7, 19)}\\)`));
      assert.equal(cli(["tag", "test/job:v1", "test/job:v2"]).code, 0);
      assert.match(cli(["images"]).out, /test\/job\s+v2\s+/);
      assert.equal(cli(["rmi", "test/job:v1", "test/job:v2", "test/flat:1"]).code, 0);
      assert.match(cli(["prune"]).out, /Total reclaimed/);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("pods and volumes: -v NAME:/path, --volumes-from, --net container:<name>", async () => {
    const id = cli(["run", "-d", "--name", "pa", "--network", "none", "-v", "clidata:/data", "stack/busybox", "sh", "-c", "echo hi > /data/f; readlink /proc/self/ns/net; sleep 600"]).out;
    assert.match(id, /^[0-9a-f]{32}$/);
    const ns = await firstLine(id); // /data/f is written before it
    assert.equal(cli(["logs", "pa"]).out, ns);
    assert.match(ns, /^net:\[\d+\]$/);
    assert.equal(cli(["run", "--rm", "--net", "container:pa", "stack/busybox", "readlink", "/proc/self/ns/net"]).out, ns);
    assert.equal(cli(["run", "--rm", "--network", "none", "--volumes-from", "pa", "stack/busybox", "cat", "/data/f"]).out, "hi");
    assert.match(cli(["run", "-v", "/etc:/x", "stack/busybox", "true"]).err, /invalid -v "\/etc:\/x"/);
    assert.match(cli(["run", "--net", "host", "stack/busybox", "true"]).err, /invalid --network "host"/);
    assert.equal(cli(["rm", "-f", "pa"]).code, 0);
    await rt.removeVolume("clidata").catch(() => {});
  });
}

describe("in the operator's own process", () => {
  before(() => {
    mode = "local";
  });
  commonTests();
});

describe("through the agent", () => {
  let agent: ChildProcess;
  before(async () => {
    agent = await startAgent({ ...env, PAAS_AGENT_PORT: String(await freePort()) });
    mode = "agent";
  });
  after(() => {
    agent.kill("SIGKILL");
  });
  commonTests();
  agentTests(() => agent);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A container's first line of output, followed as the monitor writes it (no sleep), under a deadline. */
async function firstLine(id: string, ms = 10_000): Promise<string> {
  for await (const l of rt.logLines(id, { follow: true, signal: AbortSignal.timeout(ms) })) return JSON.parse(l).line;
  throw new Error(`container ${id} wrote no line within ${ms} ms`);
}
async function until(ok: () => boolean, what: string, ms = 10_000) {
  for (const end = Date.now() + ms; !ok(); await sleep(50)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}
/** A child's exit code, 128+N when a signal ended it (as a shell reports it). */
function exitOf(p: ChildProcess): Promise<number> {
  const code = () => p.exitCode ?? 128 + os.constants.signals[p.signalCode!];
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(code());
  return new Promise((r) => p.once("exit", () => r(code())));
}
function started(args: string[]) {
  const p = spawn(bin, args, { env: binEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const seen = { out: "", err: "" };
  p.stdout!.on("data", (d) => (seen.out += d));
  p.stderr!.on("data", (d) => (seen.err += d));
  return { p, seen };
}

/** What only the agent's path has. */
function agentTests(agent: () => ChildProcess) {
  const agentFds = () => fs.readdirSync(`/proc/${agent().pid}/fd`).length;

  test("the agent runs the command: the bin's process is the C client, and only root reaches the socket", async () => {
    assert.equal(fs.statSync(path.dirname(rt.cliSocket)).mode & 0o777, 0o700);
    const { p, seen } = started(["run", "--rm", "--network", "none", "stack/busybox", "sh", "-c", "echo up; sleep 1"]);
    await until(() => seen.out.includes("up"), "the container's output");
    assert.match(fs.readlinkSync(`/proc/${p.pid}/exe`), /\/paas-client$/);
    assert.equal(await exitOf(p), 0, seen.err);
  });

  test("Ctrl-C reaches the container (it stops, the client exits with its code); output larger than a frame arrives whole", async () => {
    const { p, seen } = started(["run", "--rm", "--network", "none", "stack/busybox", "sh", "-c", 'trap "echo got TERM; exit 7" TERM; echo started; while true; do sleep 0.1; done']);
    await until(() => seen.out.includes("started"), "the container's start");
    p.kill("SIGINT");
    assert.equal(await exitOf(p), 7, seen.err);
    assert.match(seen.out, /got TERM/);
    assert.deepEqual(rt.list(), [], "--rm removed it");
    const big = cli(["run", "--rm", "--network", "none", "stack/busybox", "seq", "1", "50000"]);
    assert.equal(big.code, 0, big.err);
    assert.equal(big.out, Array.from({ length: 50000 }, (_, i) => String(i + 1)).join("\n"));
  });

  test("a follower ends with its client: logs -f exits 143 on SIGTERM; a client killed outright leaves nothing open in the agent", async () => {
    const id = cli(["run", "-d", "--network", "none", "stack/busybox", "sh", "-c", "while true; do echo tick; sleep 0.1; done"]).out;
    const fdsBefore = agentFds();
    const a = started(["logs", "-f", id]);
    await until(() => a.seen.out.includes("tick"), "logs -f output");
    a.p.kill("SIGTERM");
    assert.equal(await exitOf(a.p), 143);
    const b = started(["logs", "-f", id]);
    await until(() => b.seen.out.includes("tick"), "logs -f output");
    b.p.kill("SIGKILL");
    await exitOf(b.p);
    await until(() => agentFds() <= fdsBefore, `the agent's fds back to ${fdsBefore} (now ${agentFds()})`);
    assert.equal(cli(["rm", "-f", id]).code, 0);
  });

  test("kill ends a container for good: its restart policy does not start it again (the agent applies policies)", async () => {
    const id = cli(["run", "-d", "--restart", "always", "--network", "none", "stack/busybox", "sleep", "600"]).out;
    const crash = cli(["run", "-d", "--restart", "always", "--network", "none", "stack/busybox", "sh", "-c", "sleep 0.2; exit 1"]).out;
    assert.equal(cli(["kill", id]).code, 0);
    // the policy at work: the one that exited on its own is started again meanwhile
    await until(() => (rt.get(crash).restartCount ?? 0) >= 1, "the crashing container's restart");
    assert.equal(rt.get(id).state, "exited");
    assert.equal(rt.get(id).restartCount ?? 0, 0);
    assert.equal(cli(["rm", "-f", id, crash]).code, 0);
  });

  test("exec -it from a real terminal (script's pty): the shell gets a terminal of the container's, keys as typed, its exit code; -i from a pipe", async () => {
    const id = cli(["run", "-d", "--network", "none", "stack/busybox", "sleep", "600"]).out;
    // script -qec CMD: CMD on a pty of script's, with our input typed into it
    const term = spawnSync("script", ["-qec", `${bin} exec -it ${id} sh`, "/dev/null"], { env: binEnv(), input: "tty; echo in-$((6*7)); exit 5\n", encoding: "utf8", timeout: 20_000 });
    assert.equal(term.status, 5, term.stdout + term.stderr);
    assert.match(term.stdout, /^\/dev\/pts\/\d+\r?$/m, "a terminal inside");
    assert.match(term.stdout, /^in-42\r?$/m);
    // the same command from a pipe: -t falls back to pipes (no terminal to give), -i passes the input
    const piped = cli(["exec", "-it", id, "sh", "-c", "tty; read l; echo got-$l; exit 6"], "line\n");
    assert.equal(piped.code, 6, piped.err);
    assert.deepEqual(piped.out.split("\n"), ["not a tty", "got-line"]);
    assert.equal(cli(["rm", "-f", id]).code, 0);
  });

  test("--local is refused while the agent runs, naming its pid and address, and changes nothing", () => {
    const r = cli(["--local", "run", "--rm", "--network", "none", "stack/busybox", "true"]);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`an agent runs on this data dir \\(pid ${agent().pid}, http://127\\.0\\.0\\.1:\\d+\\)`));
    const env1 = spawnSync(bin, ["ps"], { env: { ...env, PAAS_RUNTIME_LOCAL: "1" }, encoding: "utf8" });
    assert.equal(env1.status, 1);
    assert.match(env1.stderr, /--local is refused while it runs/);
    assert.deepEqual(rt.list(), [], "nothing was made");
  });

  test("with the agent gone (SIGKILL; its socket file left behind), the bin says so and points to --local, which works", async () => {
    agent().kill("SIGKILL");
    await exitOf(agent());
    assert.ok(fs.existsSync(rt.cliSocket), "the socket file is still there");
    const r = cli(["run", "--rm", "--network", "none", "stack/busybox", "echo", "still here"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no agent runs on this data dir .*paas-runtime --local run --rm/);
    assert.deepEqual(rt.list(), [], "nothing was made");
    const l = cli(["--local", "run", "--rm", "--network", "none", "stack/busybox", "echo", "still here"]);
    assert.equal(l.code, 0, l.err);
    assert.equal(l.out, "still here");
  });
}
