export * from "./containers.ts";
export * from "./images.ts";
export * from "./cgroups.ts";
export * from "./network.ts";
export * from "./stacks.ts";
export { Layout } from "./paths.ts";
export { RuntimeError } from "./util.ts";
