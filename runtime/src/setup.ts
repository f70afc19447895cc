/**
 * `npx tsx runtime/src/setup.ts` (infra/setup runs it): builds the C helper (if needed) and the
 * stacks, once per machine (see stacks.ts); quick when nothing changed.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { config } from "@paas/shared";
import { ImageStore } from "./images.ts";
import { Layout } from "./paths.ts";
import { ensureStacks } from "./stacks.ts";

const build = spawnSync(path.resolve(import.meta.dirname, "../native/build.sh"), { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const store = new ImageStore(new Layout(config().dataDir));
const t = Date.now();
try {
  const made = await ensureStacks(store, (m) => console.log(`runtime: ${m}`));
  console.log(made.length ? `runtime: stacks ready in ${Math.round((Date.now() - t) / 1000)} s (${made.length} names made or updated; list them: npx paas-runtime images)` : "runtime: stacks already present");
} catch (err) {
  console.error(`runtime: cannot make the stacks: ${(err as Error).message}`);
  process.exit(1);
}
