/**
 * infra/install-units --dir: the systemd units for hosts where systemd is PID 1, written into a
 * directory of the test's and checked by systemd's own `systemd-analyze verify` (it parses every
 * key and checks that each command exists). No unit is installed on this machine.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, sh } from "../helpers/platform.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-units-"));
const dataDir = path.join(dir, "data");
const read = (name: string) => fs.readFileSync(path.join(dir, name), "utf8");

describe("infra/install-units", () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("writes a unit per service that systemd-analyze verify accepts, each restarted always", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PAAS_DATA_DIR: dataDir, PAAS_WEB_PORT: "3999" };
    delete env.PAAS_REDIS_URL;
    const r = await sh(path.join(ROOT, "infra/install-units"), ["--dir", dir], { env });
    assert.equal(r.code, 0, r.stderr);
    const services = ["redis", "agent", "web", "router", "worker", "prometheus"];
    for (const s of services) {
      const unit = read(`paas-${s}.service`);
      assert.match(unit, new RegExp(`^ExecStart=${ROOT}/infra/run-service ${s}$`, "m"));
      assert.match(unit, /^Restart=always$/m);
      assert.match(unit, /^RestartSec=200ms$/m);
      assert.match(unit, new RegExp(`^StandardOutput=append:${dataDir}/logs/${s}.log$`, "m"));
    }
    // Stopping or restarting the agent leaves the apps' containers (their monitors) running.
    assert.match(read("paas-agent.service"), /^KillMode=process$/m);
    assert.match(read("paas.target"), new RegExp(`^Wants=paas-prepare.service ${services.map((s) => `paas-${s}.service`).join(" ")}`, "m"));
    assert.match(read("paas.env"), /^PAAS_WEB_PORT=3999$/m);
    assert.match(read("paas.env"), new RegExp(`^PAAS_DATA_DIR=${dataDir}$`, "m"));
    assert.equal(fs.statSync(path.join(dir, "paas.env")).mode & 0o777, 0o600);

    const files = fs.readdirSync(dir).filter((f) => /\.(service|target)$/.test(f)).map((f) => path.join(dir, f));
    const verify = await sh("systemd-analyze", ["verify", ...files]);
    assert.equal(verify.code, 0, `systemd-analyze verify: ${verify.stderr}${verify.stdout}`);
    assert.equal(verify.stderr.trim(), "", "no warning either");
  });

  test("with a Redis of the operator's (PAAS_REDIS_URL), no Redis unit", async () => {
    const other = path.join(dir, "other");
    const r = await sh(path.join(ROOT, "infra/install-units"), ["--dir", other], {
      env: { ...process.env, PAAS_DATA_DIR: dataDir, PAAS_REDIS_URL: "redis://127.0.0.1:6399" },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.existsSync(path.join(other, "paas-redis.service")), false);
    assert.doesNotMatch(fs.readFileSync(path.join(other, "paas-web.service"), "utf8"), /paas-redis/);
  });

  test("without --dir it refuses where systemd is not PID 1, naming what is, and writes nothing", async (t) => {
    const init = fs.readFileSync("/proc/1/comm", "utf8").trim();
    if (init === "systemd") return t.skip("systemd is PID 1 here: installing would change this host");
    const r = await sh(path.join(ROOT, "infra/install-units"), [], { env: { ...process.env, PAAS_DATA_DIR: dataDir } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`systemd is not PID 1 here \\(it is ${init}\\): run the platform with ./infra/up`));
    assert.equal(fs.existsSync("/etc/paas/paas.env"), false);
  });
});
