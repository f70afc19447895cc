/**
 * paas-runtime in the caller's own process (the commands are in cli-program.ts). The bin
 * runs this for CALLER_SIDE commands, which the agent hands back (they need the caller's
 * stdin, terminal or files): they run here as clients of the agent's HTTP API. With
 * --local (or PAAS_RUNTIME_LOCAL=1), every command runs here on the data dir's files: for
 * recovery while no agent runs, and refused while one does, so the agent stays the one
 * writer of the runtime's state.
 */
import { AgentClient } from "@paas/shared/agent-api";
import { config } from "@paas/shared/config";
import { findAgent } from "./agent-lookup.ts";
import { type CliIo, type Terminal, runCli } from "./cli-program.ts";
import { agentStreams } from "./cli-remote.ts";
import { Runtime } from "./containers.ts";
import { Layout } from "./paths.ts";

const cfg = config();
const layout = new Layout(cfg.dataDir);
let argv = process.argv.slice(2);
const local = argv[0] === "--local" || process.env.PAAS_RUNTIME_LOCAL === "1";
if (argv[0] === "--local") argv = argv.slice(1);

let rt: Runtime | undefined;
const runtime = () => (rt ??= new Runtime({ dataDir: cfg.dataDir, bridge: cfg.bridge, subnet: cfg.subnet, cgroupRoot: cfg.cgroupRoot }));

const terminal: Terminal | undefined =
  process.stdin.isTTY && process.stdout.isTTY
    ? {
        size: () => ({ rows: process.stdout.rows, cols: process.stdout.columns }),
        setRaw: (on) => void process.stdin.setRawMode(on),
        onResize: (fn) => void process.stdout.on("resize", fn),
      }
    : undefined;

const io: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  terminal,
  isTTY: !!process.stdout.isTTY,
  env: process.env,
  onInterrupt(fn) {
    process.on("SIGINT", fn);
    process.on("SIGTERM", fn);
  },
};

function fail(message: string): never {
  process.stderr.write(`paas-runtime: ${message}\n`);
  process.exit(1);
}

// (no top-level await: the bin bundles this as CommonJS, for V8's code cache)
void (async () => {
  const agent = await findAgent(layout);
  let code: number | undefined;
  if (local) {
    if (agent) {
      const who = agent.pid ? `pid ${agent.pid}${agent.url ? `, ${agent.url}` : ""}` : `answering on ${agent.socket}`;
      fail(`an agent runs on this data dir (${who}): it is the one writer of the runtime's state, so --local is refused while it runs; drop --local (the agent runs the command), or stop the agent first`);
    }
    // the agent's part at its start: what exited while none ran is recorded and freed
    await runtime().adopt();
    code = await runCli(argv, io, { runtime, streams: runtime, init: () => runtime().init() });
  } else {
    if (!agent) fail(`no agent runs on this data dir (${cfg.dataDir}: nothing answers on ${layout.cliSocket}); start it (./infra/up), or, for recovery while it is down, run: paas-runtime --local ${argv.join(" ")}`);
    if (!agent.url) fail(`the agent on ${agent.socket} did not say where its API listens (${layout.agentInfo} is missing); restart it`);
    const client = new AgentClient(agent.url, agent.token);
    const inAgent = () => fail(`this command runs in the agent: call runtime/bin/paas-runtime, which forwards it there (or --local while no agent runs)`);
    code = await runCli(argv, io, { runtime: inAgent, streams: () => agentStreams(client), init: async () => {} });
  }
  // the files of containers it removed are deleted before it goes (the agent does it after replying)
  await rt?.idle();
  // An explicit code (a container's) exits now; otherwise the process ends when its work has.
  if (code !== undefined) process.exit(code);
})();
