/**
 * Dockerfile -> a plan of stages and steps (pure: no containers). The syntax is
 * dockerfile-ast's (a maintained parser: continuations, quoting, JSON forms, flags);
 * this file checks what we support and gives every step its line number.
 */
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { isBaseImage } from "@paas/shared/stacks";
import { PushError } from "../../pipeline/push-error.ts";

export class DockerfileError extends PushError {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`Dockerfile line ${line}: ${message}`);
  }
}

export const SUPPORTED_INSTRUCTIONS = ["FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "CMD", "ENTRYPOINT", "LABEL"];

export type Step =
  | { kind: "run"; line: number; text: string; argv?: string[]; shell?: string }
  | { kind: "copy"; line: number; text: string; add: boolean; from?: string; srcs: string[]; dest: string; chown?: string }
  | { kind: "env" | "label"; line: number; text: string; pairs: [string, string][] }
  | { kind: "arg"; line: number; text: string; name: string; value?: string }
  | { kind: "workdir" | "user"; line: number; text: string; value: string }
  | { kind: "expose"; line: number; text: string; ports: string[] }
  | { kind: "cmd" | "entrypoint"; line: number; text: string; argv?: string[]; shell?: string };

export interface Stage {
  index: number;
  name?: string;
  /** As written (may hold ${ARG}s from the global ARGs). */
  from: string;
  /** Index of the earlier stage it builds on, when FROM names one. */
  fromStage?: number;
  line: number;
  steps: Step[];
}

export interface Plan {
  globalArgs: { name: string; value?: string; line: number }[];
  stages: Stage[];
}

const lineOf = (i: Instruction) => i.getRange().start.line + 1;

/** JSON (exec) form when the arguments are a JSON array of strings. */
function execForm(args: string): string[] | undefined {
  const t = args.trim();
  if (!t.startsWith("[")) return undefined;
  try {
    const v = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
  } catch {}
  return undefined;
}

function props(i: Instruction): [string, string][] {
  const p = (i as unknown as { getProperties?: () => { getName(): string; getValue(): string | null }[] }).getProperties?.() ?? [];
  return p.map((x) => [x.getName(), x.getValue() ?? ""]);
}

function flags(i: Instruction): Map<string, string | null> {
  const f = (i as unknown as { getFlags?: () => { getName(): string; getValue(): string | null }[] }).getFlags?.() ?? [];
  return new Map(f.map((x) => [x.getName(), x.getValue()]));
}

/** Arguments without the leading --flags. */
function plainArgs(i: Instruction): string[] {
  const args = i.getArguments().map((a) => a.getValue());
  while (args.length && args[0].startsWith("--")) args.shift();
  return args;
}

export function planDockerfile(text: string): Plan {
  const df = DockerfileParser.parse(text);
  const plan: Plan = { globalArgs: [], stages: [] };
  const names = new Map<string, number>();
  for (const ins of df.getInstructions()) {
    const kw = ins.getKeyword().toUpperCase();
    const line = lineOf(ins);
    const args = ins.getArgumentsContent() ?? "";
    const text = `${kw} ${args}`.trim();
    if (!SUPPORTED_INSTRUCTIONS.includes(kw)) {
      throw new DockerfileError(line, `unknown or unsupported instruction ${kw}; supported: ${SUPPORTED_INSTRUCTIONS.join(", ")}`);
    }
    if (kw !== "FROM" && kw !== "ARG" && plan.stages.length === 0) {
      throw new DockerfileError(line, `${kw} before the first FROM; a Dockerfile starts with FROM (ARGs may come before it)`);
    }
    const stage = plan.stages[plan.stages.length - 1];
    switch (kw) {
      case "FROM": {
        const words = plainArgs(ins);
        if (words.length !== 1 && !(words.length === 3 && words[1].toUpperCase() === "AS")) {
          throw new DockerfileError(line, `FROM takes an image and an optional "AS name", got "${args}"`);
        }
        if (flags(ins).size) throw new DockerfileError(line, "FROM flags (--platform) are not supported");
        const from = words[0];
        const name = words[2]?.toLowerCase();
        if (name && names.has(name)) throw new DockerfileError(line, `stage name "${name}" is used twice`);
        const s: Stage = { index: plan.stages.length, from, line, steps: [], ...(name ? { name } : {}) };
        if (names.has(from.toLowerCase())) s.fromStage = names.get(from.toLowerCase());
        if (name) names.set(name, s.index);
        plan.stages.push(s);
        break;
      }
      case "ARG": {
        const p = props(ins);
        if (p.length !== 1) throw new DockerfileError(line, `ARG takes one NAME or NAME=default, got "${args}"`);
        const [[name, value]] = p;
        const hasDefault = args.includes("=");
        const a = { name, ...(hasDefault ? { value } : {}) };
        if (!stage) plan.globalArgs.push({ ...a, line });
        else stage.steps.push({ kind: "arg", line, text, ...a });
        break;
      }
      case "RUN":
      case "CMD":
      case "ENTRYPOINT": {
        if (flags(ins).size) throw new DockerfileError(line, `${kw} flags (${[...flags(ins).keys()].map((f) => "--" + f).join(", ")}) are not supported`);
        if (!args.trim()) throw new DockerfileError(line, `${kw} needs a command`);
        const argv = execForm(args);
        const kind = kw.toLowerCase() as "run" | "cmd" | "entrypoint";
        stage.steps.push(argv ? { kind, line, text, argv } : { kind, line, text, shell: args });
        break;
      }
      case "COPY":
      case "ADD": {
        const f = flags(ins);
        for (const k of f.keys()) if (k !== "from" && k !== "chown") throw new DockerfileError(line, `${kw} --${k} is not supported (only --chown${kw === "COPY" ? " and --from" : ""})`);
        const chown = f.get("chown");
        if (chown === null || chown === "") throw new DockerfileError(line, `${kw} --chown needs a user: --chown=1000 or --chown=1000:1000`);
        // With ${ARG}s in it, it is checked once they are known (build.ts).
        if (chown !== undefined && !chown.includes("$")) parseChown(chown, line);
        const json = execForm(args.replace(/^(--\S+\s+)+/, ""));
        const words = json ?? plainArgs(ins);
        if (words.length < 2) throw new DockerfileError(line, `${kw} needs at least one source and a destination`);
        const from = f.get("from") ?? undefined;
        if (from !== undefined && from !== null && kw === "ADD") throw new DockerfileError(line, "ADD --from is not supported; use COPY --from");
        const srcs = words.slice(0, -1);
        if (kw === "ADD") {
          const url = srcs.find(isUrl);
          if (url) throw new DockerfileError(line, addUrlMessage(url));
        }
        if (from !== undefined && from !== null && !names.has(from.toLowerCase()) && !/^\d+$/.test(from) && !isAllowedImage(from)) {
          throw new DockerfileError(line, `COPY --from=${from}: no earlier stage of that name`);
        }
        const shown = [kw, ...[...f].map(([k, v]) => `--${k}=${v ?? ""}`), args].join(" ");
        stage.steps.push({ kind: "copy", line, text: shown, add: kw === "ADD", srcs, dest: words[words.length - 1], ...(from ? { from: from.toLowerCase() } : {}), ...(chown ? { chown } : {}) });
        break;
      }
      case "ENV":
      case "LABEL": {
        const pairs = props(ins);
        if (!pairs.length) throw new DockerfileError(line, `${kw} needs NAME=value`);
        stage.steps.push({ kind: kw.toLowerCase() as "env" | "label", line, text, pairs });
        break;
      }
      case "WORKDIR":
      case "USER": {
        const v = args.trim();
        if (!v) throw new DockerfileError(line, `${kw} needs a value`);
        stage.steps.push({ kind: kw.toLowerCase() as "workdir" | "user", line, text, value: v });
        break;
      }
      case "EXPOSE": {
        const ports = args.trim().split(/\s+/).filter(Boolean);
        if (!ports.length) throw new DockerfileError(line, "EXPOSE needs a port");
        stage.steps.push({ kind: "expose", line, text, ports });
        break;
      }
    }
  }
  if (plan.stages.length === 0) throw new DockerfileError(1, "no FROM: a Dockerfile starts with FROM stack/node (or stack/python, stack/busybox)");
  return plan;
}

/** An ADD source that names something remote (docker would download it; we have no internet). */
export const isUrl = (src: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(src) || /^git@/.test(src);

export const addUrlMessage = (url: string) =>
  `ADD ${url}: downloading in ADD is not supported (builds here have no internet, only the package registries); put the file in the repository, or fetch it in a RUN step (RUN curl -fsSL -o /path ${url} or wget -O /path ${url}) from a host the build can reach`;

/** COPY/ADD --chown=user[:group]: each a number or a name (names are looked up in the image). */
export interface Chown {
  user: string;
  group?: string;
}

const ID_OR_NAME = /^(\d+|[A-Za-z_][A-Za-z0-9_.-]*\$?)$/;

/** Parses --chown's value; a malformed one fails with the line and the forms that work. */
export function parseChown(spec: string, line: number): Chown {
  const [user, group, extra] = spec.split(":");
  if (extra !== undefined || !ID_OR_NAME.test(user) || (group !== undefined && !ID_OR_NAME.test(group))) {
    throw new DockerfileError(line, `--chown=${spec}: expected user[:group], each a number or a name, e.g. --chown=1000:1000`);
  }
  for (const id of [user, group]) {
    if (id !== undefined && /^\d+$/.test(id) && Number(id) > 0xfffffffe) throw new DockerfileError(line, `--chown=${spec}: ${id} is not a valid id (0..4294967294)`);
  }
  return group === undefined ? { user } : { user, group };
}

/**
 * Images a FROM may name besides earlier stages: the hosts' base images (our stacks and the
 * official names on them: node:20-slim, python:3.11, debian:bookworm, ...), and the app's own.
 */
export function isAllowedImage(ref: string, app?: string): boolean {
  if (isBaseImage(ref)) return true;
  const [repo] = ref.split(":");
  return app !== undefined && repo === `app/${app}`;
}

/** ${VAR}, $VAR, ${VAR:-default}, ${VAR:+alt}; \$ stays a literal $. Unknown names become "". */
export function expand(s: string, vars: Record<string, string | undefined>): string {
  return s.replace(/\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, braced, op, word, bare) => {
    if (m === "\\$") return "$";
    const name = braced ?? bare;
    const v = vars[name];
    if (op === "-") return v ? v : word;
    if (op === "+") return v ? word : "";
    return v ?? "";
  });
}
