export * from "./config.ts";
export * from "./naming.ts";
export * from "./tokens.ts";
export * from "./agent-api.ts";
export * from "./redis-keys.ts";
export * from "./worker-token.ts";
export * from "./egress.ts";
