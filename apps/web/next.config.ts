import path from "node:path";
import { fileURLToPath } from "node:url";
import type { NextConfig } from "next";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const nextConfig: NextConfig = {
  // infra/up runs .next/standalone's server.js with plain node: one process with only the
  // files the server traced, not `next start`'s CLI and dev tooling.
  output: "standalone",
  // Our workspace packages ship raw TypeScript (with .ts import suffixes).
  transpilePackages: ["@paas/shared", "@paas/db"],
  // Native addon and the Prisma adapter stay plain Node requires at run time.
  serverExternalPackages: ["better-sqlite3", "@prisma/adapter-better-sqlite3", "@prisma/client", "simple-git", "bullmq", "ioredis"],
  // The monorepo root holds node_modules and the lockfile.
  turbopack: { root },
  outputFileTracingRoot: root,
  poweredByHeader: false,
  experimental: {
    // Next loads every page's and route's server module at start by default (to answer each
    // first request sooner); lazily, an idle server holds only what has been asked for.
    preloadEntriesOnStart: false,
  },
};

export default nextConfig;
