/**
 * paas-runtime: the operator's CLI, docker's verbs on this host's runtime (same data dir
 * as the agent: PAAS_DATA_DIR). `run --rm --memory 32m IMAGE CMD...` exits with the
 * container's exit code.
 */
import fs from "node:fs";
import { Command } from "commander";
import { config } from "@paas/shared";
import { Runtime } from "./containers.ts";
import { ensureStacks } from "./stacks.ts";
import { RuntimeError } from "./util.ts";

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(s.trim());
  if (!m) throw new RuntimeError(`bad size "${s}": use e.g. 512k, 32m, 1g`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as "" | "k" | "m" | "g"];
  return Math.round(Number(m[1]) * mult);
}

function runtime() {
  const cfg = config();
  return new Runtime({ dataDir: cfg.dataDir, bridge: cfg.bridge, subnet: cfg.subnet, cgroupRoot: cfg.cgroupRoot });
}

function table(rows: string[][]) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd());
}

const program = new Command("paas-runtime").description("the PaaS container runtime on this host").enablePositionalOptions();

program
  .command("run")
  .description("create and start a container, print its output, exit with its code")
  .option("--rm", "remove the container when it exits")
  .option("-m, --memory <size>", "memory limit", "256m")
  .option("--cpus <n>", "CPU limit in cores, e.g. 0.5")
  .option("--pids-limit <n>", "max processes")
  .option("--name <name>")
  .option("--hostname <name>")
  .option("-e, --env <K=V...>", "environment variables")
  .option("-w, --workdir <dir>")
  .option("--network <mode>", "bridge or none", "bridge")
  .option("--egress", "allow connections beyond the host")
  .option("--cgroup-parent <path>", "cgroup path below the runtime's root", "cli")
  .argument("<image>")
  .argument("[cmd...]")
  .passThroughOptions()
  .action(async (image: string, cmd: string[], o) => {
    const rt = runtime();
    await rt.init();
    const env = Object.fromEntries((o.env ?? []).map((kv: string) => [kv.split("=")[0], kv.split("=").slice(1).join("=")]));
    const c = rt.create({
      image,
      cmd: cmd.length ? cmd : undefined,
      name: o.name,
      hostname: o.hostname,
      env,
      workdir: o.workdir,
      memoryBytes: parseSize(o.memory),
      cpuMillis: o.cpus ? Math.round(Number(o.cpus) * 1000) : undefined,
      pidsLimit: o.pidsLimit ? Number(o.pidsLimit) : undefined,
      cgroupParent: o.cgroupParent,
      network: o.network,
      egress: !!o.egress,
    });
    let code = 125;
    const onSig = () => void rt.stop(c.id, 10);
    process.on("SIGINT", onSig);
    process.on("SIGTERM", onSig);
    try {
      await rt.start(c.id);
      for await (const raw of rt.logLines(c.id, { follow: true })) {
        const l = JSON.parse(raw) as { stream: string; line: string };
        (l.stream === "stderr" ? process.stderr : process.stdout).write(l.line + "\n");
      }
      const w = await rt.wait(c.id);
      if (w.oomKilled) console.error(`paas-runtime: the container was killed: out of memory (limit ${o.memory})`);
      code = w.exitCode;
    } catch (err) {
      console.error(`paas-runtime: ${(err as Error).message}`);
    } finally {
      if (o.rm) await rt.remove(c.id, { force: true });
    }
    process.exit(code);
  });

program
  .command("ps")
  .option("-a, --all", "show exited and created containers too")
  .option("--json")
  .action((o) => {
    const list = runtime().list().filter((c) => o.all || c.state === "running");
    if (o.json) return console.log(JSON.stringify(list, null, 2));
    table([["ID", "NAME", "IMAGE", "STATE", "PID", "IP"], ...list.map((c) => [c.id.slice(0, 12), c.name, c.image, c.state + (c.exitCode !== undefined ? ` (${c.exitCode}${c.oomKilled ? ", OOM" : ""})` : ""), String(c.pid ?? ""), c.ip ?? ""])]);
  });

program
  .command("images")
  .option("--json")
  .action((o) => {
    const list = runtime().images.list();
    if (o.json) return console.log(JSON.stringify(list, null, 2));
    table([["NAME", "ID", "LAYERS", "SIZE"], ...list.map((i) => [i.names.join(",") || "<none>", i.id.slice(7, 19), String(i.layers.length), `${(i.sizeBytes / 1024 / 1024).toFixed(1)}MB`])]);
  });

program
  .command("import")
  .description("import a tar (a root filesystem) as a one-layer image")
  .argument("<tar>", "tar file, or - for stdin")
  .argument("<name>", "NAME[:TAG]")
  .action(async (file: string, name: string) => {
    const stream = file === "-" ? process.stdin : fs.createReadStream(file);
    const img = await runtime().images.importTar(stream, name);
    console.log(img.id);
  });

program
  .command("logs")
  .option("-f, --follow")
  .option("-n, --tail <n>")
  .option("-t, --timestamps")
  .argument("<container>")
  .action(async (ref: string, o) => {
    for await (const raw of runtime().logLines(ref, { follow: o.follow, tail: o.tail ? Number(o.tail) : undefined })) {
      const l = JSON.parse(raw) as { t: string; stream: string; line: string };
      (l.stream === "stderr" ? process.stderr : process.stdout).write(`${o.timestamps ? l.t + " " : ""}${l.line}\n`);
    }
  });

program
  .command("stop")
  .option("-t, --time <s>", "seconds before SIGKILL", "10")
  .argument("<container...>")
  .action(async (refs: string[], o) => {
    const rt = runtime();
    for (const r of refs) console.log((await rt.stop(r, Number(o.time))).name);
  });

program
  .command("rm")
  .option("-f, --force")
  .argument("<container...>")
  .action(async (refs: string[], o) => {
    const rt = runtime();
    for (const r of refs) {
      await rt.remove(r, { force: o.force });
      console.log(r);
    }
  });

program
  .command("rmi")
  .argument("<image...>")
  .action((refs: string[]) => {
    const rt = runtime();
    for (const r of refs) for (const x of rt.removeImage(r)) console.log(`removed ${x}`);
  });

program
  .command("setup")
  .description("build the stacks (stack/busybox, stack/node) when missing")
  .action(async () => {
    const built = await ensureStacks(runtime().images, (m) => console.log(m));
    if (!built.length) console.log("stacks already present");
  });

program.parseAsync().catch((err) => {
  console.error(`paas-runtime: ${(err as Error).message}`);
  process.exit(1);
});
