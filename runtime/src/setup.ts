/** `npx tsx runtime/src/setup.ts`: builds the C helper (if needed) and the stacks, once. */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { config } from "@paas/shared";
import { ImageStore } from "./images.ts";
import { Layout } from "./paths.ts";
import { ensureStacks } from "./stacks.ts";

const build = spawnSync(path.resolve(import.meta.dirname, "../native/build.sh"), { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const store = new ImageStore(new Layout(config().dataDir));
const built = await ensureStacks(store, (m) => console.log(`runtime: ${m}`));
console.log(built.length ? `runtime: stacks ready (${built.join(", ")} built)` : "runtime: stacks already present");
