/**
 * `paas run -a APP CMD...` (a one-off container of the app's current release: its image, config
 * vars and volumes) and `paas run:debug -a APP [--replica web.1] [CMD...]` (a shell, or CMD, in a
 * container of network tools that joins the replica's network namespace and volumes). Output is
 * streamed back and the command's exit code is ours; the container is removed after. With a
 * terminal on both ends the command gets a TTY (raw mode here, the window's size followed), as
 * `paas-runtime exec -it` does. The API relays the agent's exec stream (apps/web/src/server/run).
 */
import http from "node:http";
import https from "node:https";
import type { Command } from "commander";
import { encodeFrame, frameReader } from "@paas/shared/agent-api";
import { CliError, resolveCredentials } from "./credentials.ts";
import { resolveApp } from "./git.ts";
import { appCommand, type CommandKit } from "./kit.ts";

type Body = { app: string; mode: "run" | "debug"; cmd?: string[]; replica?: string };

/** POST with a JSON or binary body; resolves with the response (any status). */
function post(url: URL, token: string, body: string | Buffer, type: string): Promise<http.IncomingMessage> {
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": type, "content-length": Buffer.byteLength(body) } }, resolve);
    req.on("error", (err) => reject(new CliError(`cannot reach the API at ${url.origin} (${err.message}); is the platform up?`)));
    req.end(body);
  });
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  let text = "";
  res.setEncoding("utf8");
  for await (const c of res) text += c;
  return text;
}

/** Runs the session; resolves with the command's exit code (255 when the stream ended without one). */
async function session(body: Body): Promise<number> {
  const creds = resolveCredentials();
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  // A pty of no size (script(1) in a pipe) says nothing: the remote terminal keeps its default.
  const size = tty && process.stdout.rows > 0 && process.stdout.columns > 0 ? { rows: process.stdout.rows, cols: process.stdout.columns } : {};
  const res = await post(new URL("/api/run", creds.url), creds.token, JSON.stringify({ ...body, tty, ...size }), "application/json");
  if (res.statusCode !== 200) {
    const text = await readAll(res);
    let msg = `the API answered ${res.statusCode}`;
    try {
      msg = (JSON.parse(text) as { error?: string }).error ?? msg;
    } catch {}
    throw new CliError(msg);
  }
  const id = String(res.headers["x-paas-session"]);
  const inputUrl = new URL(`/api/run/${id}/input`, creds.url);
  // Input goes in order, one request at a time; what arrives meanwhile is sent together.
  let pending: Buffer[] = [];
  let sending = false;
  let ended = false;
  const flush = async () => {
    if (sending || !pending.length || ended) return;
    sending = true;
    const frames = Buffer.concat(pending);
    pending = [];
    await post(inputUrl, creds.token, frames, "application/octet-stream")
      .then((r) => r.resume())
      .catch(() => {});
    sending = false;
    void flush();
  };
  const send = (frame: Buffer) => {
    pending.push(frame);
    void flush();
  };
  const onData = (c: Buffer) => send(encodeFrame("I", c));
  const onEnd = () => send(encodeFrame("C"));
  const onResize = () => send(encodeFrame("W", `${process.stdout.rows} ${process.stdout.columns}`));
  if (tty) {
    process.stdin.setRawMode(true);
    process.stdout.on("resize", onResize);
  }
  process.stdin.on("data", onData);
  process.stdin.on("end", onEnd);
  process.stdin.resume();
  let code = 255;
  try {
    await new Promise<void>((resolve, reject) => {
      res.on(
        "data",
        frameReader(
          (type, payload) => {
            if (type === "O") process.stdout.write(payload);
            else if (type === "E") process.stderr.write(payload);
            else if (type === "X") code = Number(payload.toString()) || 0;
          },
          () => reject(new CliError("the API sent a malformed stream")),
          1 << 24,
        ),
      );
      res.on("end", resolve);
      res.on("error", reject);
    });
  } finally {
    ended = true;
    if (tty) process.stdin.setRawMode(false);
    process.stdin.off("data", onData);
    process.stdin.off("end", onEnd);
    process.stdin.pause();
    process.stdout.off("resize", onResize);
  }
  return code;
}

/** Exits with the code once stdout has drained. */
function exitWith(code: number): void {
  process.stdout.write("", () => process.exit(code));
}

export function runCommands(program: Command, kit: CommandKit): void {
  appCommand(program, "run")
    .description("run a one-off command in a new container of the app's current release (its image, config vars and volumes); exits with its code")
    .argument("<cmd...>", "the command (put it after --; one quoted string runs in sh -c)")
    .action(
      kit.run(async (cmd: string[], opts: { app?: string; remote: string }) => {
        const app = resolveApp(opts.app, opts.remote);
        exitWith(await session({ app, mode: "run", cmd }));
      }),
    );

  appCommand(program, "run:debug")
    .description("a shell (or CMD) with curl, dig, ss and tcpdump in a replica's network namespace and volumes; nothing is installed in the app, and the container goes when the shell exits")
    .argument("[cmd...]", "a command instead of the shell (after --)")
    .option("--replica <replica>", "the replica, as ps names it (web.1, worker.2) or a web replica's number", "web.1")
    .action(
      kit.run(async (cmd: string[], opts: { app?: string; remote: string; replica: string }) => {
        const app = resolveApp(opts.app, opts.remote);
        exitWith(await session({ app, mode: "debug", replica: opts.replica, ...(cmd.length ? { cmd } : {}) }));
      }),
    );
}
