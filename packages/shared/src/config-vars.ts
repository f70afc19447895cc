/**
 * Config vars: the one module for their rules (names, sizes) and for how
 * values are shown. Values are secrets: they are masked unless someone with
 * "configure" rights asks to reveal them, and never written to logs.
 */
import { z } from "zod";

/** Names the platform sets itself; an app may not override them. (PAAS_BUILDER is the app's to set.) */
const RESERVED = new Set(["PORT", "HOME", "PATH", "HOSTNAME", "PAAS_APP", "PAAS_RELEASE"]);
export const MAX_VALUE_BYTES = 32 * 1024;
export const MAX_VARS = 200;

/** Null when `key` may be a config var, else why not. */
export function keyProblem(key: string): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
    return `"${key}" is not a valid name: use letters, digits and underscores, not starting with a digit (e.g. DATABASE_URL)`;
  }
  if (key.length > 255) return `"${key.slice(0, 20)}..." is too long: names have at most 255 characters`;
  if (RESERVED.has(key)) return `${key} is set by the platform and cannot be changed`;
  return null;
}

export function valueProblem(key: string, value: string): string | null {
  if (value.includes("\0")) return `the value of ${key} contains a NUL byte`;
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES) return `the value of ${key} is larger than ${MAX_VALUE_BYTES / 1024} KB`;
  return null;
}

/** Parses `K=V` arguments (the value may contain "="); throws with every problem at once. */
export function parseAssignments(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const arg of args) {
    const i = arg.indexOf("=");
    if (i <= 0) {
      problems.push(`"${arg.length > 40 ? arg.slice(0, 40) + "..." : arg}" is not KEY=VALUE`);
      continue;
    }
    const key = arg.slice(0, i);
    const value = arg.slice(i + 1);
    const p = keyProblem(key) ?? valueProblem(key, value);
    if (p) problems.push(p);
    else out[key] = value;
  }
  if (problems.length) throw new ConfigVarError(problems.join("; "));
  return out;
}

export class ConfigVarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigVarError";
  }
}

/** zod schemas for the API: every key and value checked by the rules above. */
export const configVarsInput = z
  .record(z.string(), z.string())
  .superRefine((vars, ctx) => {
    const keys = Object.keys(vars);
    if (keys.length === 0) ctx.addIssue({ code: "custom", message: "give at least one KEY=VALUE" });
    if (keys.length > MAX_VARS) ctx.addIssue({ code: "custom", message: `at most ${MAX_VARS} vars at once` });
    for (const [k, v] of Object.entries(vars)) {
      const p = keyProblem(k) ?? valueProblem(k, v);
      if (p) ctx.addIssue({ code: "custom", message: p });
    }
  });

export const configKeysInput = z
  .array(z.string())
  .min(1, "give at least one KEY")
  .max(MAX_VARS)
  .superRefine((keys, ctx) => {
    for (const k of keys) {
      const p = keyProblem(k);
      if (p) ctx.addIssue({ code: "custom", message: p });
    }
  });

/** What the dashboard shows before "reveal": the length stays hidden too. */
export const mask = (_value: string) => "••••••••";
