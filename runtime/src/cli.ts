/**
 * paas-runtime in the operator's own process (the bin runs this when no agent listens on
 * this host's socket, or for LOCAL_ONLY commands): the commands are in cli-program.ts.
 */
import { config } from "@paas/shared/config";
import { runCli } from "./cli-program.ts";
import { Runtime } from "./containers.ts";

let rt: Runtime | undefined;
const runtime = () => {
  if (rt) return rt;
  const cfg = config();
  return (rt = new Runtime({ dataDir: cfg.dataDir, bridge: cfg.bridge, subnet: cfg.subnet, cgroupRoot: cfg.cgroupRoot }));
};
// (no top-level await: the bin bundles this as CommonJS, for V8's code cache)
void runCli(
  process.argv.slice(2),
  {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    isTTY: !!process.stdout.isTTY,
    env: process.env,
    onInterrupt(fn) {
      process.on("SIGINT", fn);
      process.on("SIGTERM", fn);
    },
  },
  { runtime, init: () => runtime().init() },
).then(async (code) => {
  // the files of containers it removed are deleted before it goes (the agent does it after replying)
  await rt?.idle();
  // An explicit code (a container's) exits now; otherwise the process ends when its work has.
  if (code !== undefined) process.exit(code);
});
