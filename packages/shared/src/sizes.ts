/**
 * Process types, replica counts and sizes as people write them (`ps:scale web=3`,
 * `ps:resize web --memory 512M --cpus 0.5`) and as the API takes them (whole MB, millicores):
 * one definition for the CLI, the API and the dashboard. Browser-safe (no node modules).
 */
import { z } from "zod";

export const QUANTITY_MAX = 100;
export const MEMORY_MB_MIN = 32;
export const MEMORY_MB_MAX = 65536;
export const CPU_MILLIS_MIN = 10;
export const CPU_MILLIS_MAX = 64000;

/** A build step's limits (worker/src/builders); the team's kernel caps make room for them (@paas/db/quotas). */
export const BUILD_MEMORY_MB = 1024;
export const BUILD_PIDS = 1024;

/** A process type as a Procfile names it (lowercased there): web, worker, clock, ... */
export const processTypeName = z
  .string()
  .regex(/^[a-z0-9_-]{1,63}$/, "process types are lowercase letters, digits, - and _ (as the Procfile names them: web, worker, ...)");

export const quantity = z
  .int("a replica count is a whole number")
  .min(0, "a replica count is 0 or more")
  .max(QUANTITY_MAX, `a process type runs at most ${QUANTITY_MAX} replicas`);

export const memoryMb = z
  .int("memory is a whole number of MB")
  .min(MEMORY_MB_MIN, `memory is at least ${MEMORY_MB_MIN}M`)
  .max(MEMORY_MB_MAX, `memory is at most ${MEMORY_MB_MAX / 1024}G`);

export const cpuMillis = z
  .int("CPU is a whole number of millicores")
  .min(CPU_MILLIS_MIN, `CPU is at least ${CPU_MILLIS_MIN / 1000} (--cpus 0.01)`)
  .max(CPU_MILLIS_MAX, `CPU is at most ${CPU_MILLIS_MAX / 1000} (--cpus ${CPU_MILLIS_MAX / 1000})`);

/** Bad input, in one line that says what to write instead. */
export class SizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SizeError";
  }
}

const UNITS: Record<string, number> = { K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 };

function checked(schema: z.ZodType<number>, value: number, what: string): number {
  const r = schema.safeParse(value);
  if (!r.success) throw new SizeError(`${what}: ${r.error.issues[0]!.message}`);
  return r.data;
}

/** "512M", "1G", "1.5G", "524288K" (Docker's suffixes, B and i allowed) -> MB. */
export function parseMemoryMb(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt])(?:ib?|b)?\s*$/i.exec(text);
  if (!m) throw new SizeError(`--memory ${text}: write a size with its unit, e.g. 512M or 1G`);
  const mb = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isInteger(mb)) throw new SizeError(`--memory ${text}: that is ${mb.toFixed(2)} MB; give a whole number of MB, e.g. ${Math.round(mb)}M`);
  return checked(memoryMb, mb, `--memory ${text}`);
}

/** "0.5", "2" (cores, as `docker run --cpus`) -> millicores. */
export function parseCpuMillis(text: string): number {
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text)) throw new SizeError(`--cpus ${text}: write a number of CPUs, e.g. 0.5 or 2`);
  const millis = Number(text) * 1000;
  if (!Number.isInteger(Math.round(millis * 1e6) / 1e6)) throw new SizeError(`--cpus ${text}: at most 3 decimals (millicores)`);
  return checked(cpuMillis, Math.round(millis), `--cpus ${text}`);
}

const VOLUME_UNITS: Record<string, number> = { M: 1, G: 1024, T: 1024 * 1024 };

/** A volume's size cap, "512M", "1G", "1.5G" -> whole MB (the API checks its bounds). */
export function parseVolumeSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([mgt])(?:ib?|b)?\s*$/i.exec(text);
  if (!m) throw new SizeError(`--size ${text}: write a size with its unit, e.g. 512M or 1G`);
  const mb = Number(m[1]) * VOLUME_UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isInteger(mb)) throw new SizeError(`--size ${text}: give a whole number of MB, e.g. ${Math.round(mb)}M`);
  return mb;
}

/** Bytes for people: "512 B", "1.5 KB", "12.3 MB" ("-" when unknown). */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "-";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

/** MB as --memory takes it: "512M", "1G", "1.5G". */
export const formatMemory = (mb: number) => (mb >= 1024 && (mb / 1024) * 100 === Math.round((mb / 1024) * 100) ? `${mb / 1024}G` : `${mb}M`);

/** Millicores as --cpus takes it: "0.25", "1". */
export const formatCpus = (millis: number) => String(millis / 1000);

/** `ps:scale` arguments, "web=3 worker=2" -> { web: 3, worker: 2 }. */
export function parseScaleArgs(args: string[]): Record<string, number> {
  if (!args.length) throw new SizeError("name what to scale: ps:scale web=2 worker=1");
  const out: Record<string, number> = {};
  for (const arg of args) {
    const m = /^([^=]+)=(.*)$/.exec(arg);
    if (!m) throw new SizeError(`"${arg}" is not TYPE=N: write e.g. web=2`);
    const [, type, n] = m as unknown as [string, string, string];
    const name = processTypeName.safeParse(type);
    if (!name.success) throw new SizeError(`"${arg}": ${name.error.issues[0]!.message}`);
    if (!/^\d+$/.test(n)) throw new SizeError(`"${arg}": the count is a whole number, e.g. ${type}=2`);
    if (type in out) throw new SizeError(`"${type}" is named twice`);
    out[type] = checked(quantity, Number(n), `"${arg}"`);
  }
  return out;
}

/** `quotas:set` names and the Quota fields they set. */
export const QUOTA_ARGS = {
  apps: "apps",
  replicas: "replicas",
  memory: "memoryMb",
  cpus: "cpuMillis",
  storage: "storageMb",
  builds: "concurrentBuilds",
  "build-minutes": "buildMinutesPerDay",
  domains: "customDomains",
  drains: "drainsPerApp",
  pids: "pids",
} as const;
export type QuotaArgField = (typeof QUOTA_ARGS)[keyof typeof QUOTA_ARGS];

/**
 * `quotas:set` arguments, "apps=5 memory=4G cpus=4 storage=10G" -> Quota fields (MB,
 * millicores, counts). Sizes take the units --memory takes; the API checks the ranges.
 */
export function parseQuotaArgs(args: string[]): Partial<Record<QuotaArgField, number>> {
  if (!args.length) throw new SizeError(`name what to set: quotas:set apps=5 memory=4G --team T (one of ${Object.keys(QUOTA_ARGS).join(", ")})`);
  const out: Partial<Record<QuotaArgField, number>> = {};
  for (const arg of args) {
    const m = /^([^=]+)=(.*)$/.exec(arg);
    if (!m) throw new SizeError(`"${arg}" is not NAME=VALUE: write e.g. apps=5 or memory=4G`);
    const [, name, v] = m as unknown as [string, string, string];
    const field = QUOTA_ARGS[name as keyof typeof QUOTA_ARGS];
    if (!field) throw new SizeError(`"${name}" is not a quota: use ${Object.keys(QUOTA_ARGS).join(", ")}`);
    if (field in out) throw new SizeError(`"${name}" is named twice`);
    let n: number;
    if (field === "memoryMb" || field === "storageMb") {
      const s = /^\s*(\d+(?:\.\d+)?)\s*([kmgt])(?:ib?|b)?\s*$/i.exec(v);
      if (!s) throw new SizeError(`"${arg}": write a size with its unit, e.g. ${name}=4G or ${name}=512M`);
      n = Number(s[1]) * UNITS[s[2]!.toUpperCase()]!;
      if (!Number.isInteger(n)) throw new SizeError(`"${arg}": that is ${n.toFixed(2)} MB; give a whole number of MB, e.g. ${name}=${Math.round(n)}M`);
    } else if (field === "cpuMillis") {
      if (!/^\s*\d+(\.\d{1,3})?\s*$/.test(v)) throw new SizeError(`"${arg}": write a number of CPUs with at most 3 decimals, e.g. cpus=4 or cpus=0.5`);
      n = Math.round(Number(v) * 1000);
    } else {
      if (!/^\d+$/.test(v)) throw new SizeError(`"${arg}": a whole number, e.g. ${name}=5`);
      n = Number(v);
    }
    out[field] = n;
  }
  return out;
}
