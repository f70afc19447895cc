/** Test fixtures: a Runtime on its own data dir, bridge, subnet and cgroup root. */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Runtime } from "../src/containers.ts";
import { ensureStacks } from "../src/stacks.ts";
import { runSyncOk } from "../src/util.ts";

export async function testRuntime(tag: string, subnetOctet: number) {
  runSyncOk(path.resolve(import.meta.dirname, "../native/build.sh"), []);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `paas-rt-${tag}-`));
  const rt = new Runtime({ dataDir, bridge: `paast${tag}0`.slice(0, 15), subnet: `10.99.${subnetOctet}.0/24`, cgroupRoot: `paas-test-${tag}` });
  await rt.init();
  await ensureStacks(rt.images);
  const cleanup = async () => {
    for (const c of rt.list()) await rt.remove(c.id, { force: true }).catch(() => {});
    await rt.net.teardownHost();
    for (const ctrl of ["memory", "cpu", "pids"]) {
      // the test's cgroup root, and the team/app levels below it
      const root = `/sys/fs/cgroup/${ctrl}/${rt.opts.cgroupRoot}`;
      if (fs.existsSync(root)) runSyncOk("find", [root, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"]);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { rt, dataDir, cleanup };
}

/** A tar (as a Buffer) of the given files, made with the system's tar. */
export function makeTar(files: Record<string, string>): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-tar-"));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const out = spawnSync("tar", ["-C", dir, "-cf", "-", "."]);
  fs.rmSync(dir, { recursive: true, force: true });
  return out.stdout;
}
