/**
 * The operator CLI's fast path: `paas-runtime` (runtime/bin) finds this socket and runs a
 * small C client (native/client.c) that forwards its command line here; the command runs
 * in the agent's warm process, against the agent's own Runtime (cli-program.ts), and its
 * output goes back. A call then costs neither Node's start-up nor cold code.
 *
 * Frames, both ways: a type byte, a 32-bit big-endian length, the payload.
 *   client -> agent  R  "paas-cli/1\0" ARGC "\0" ARG... "\0" then the client's environment, "K=V\0" each
 *                    S  a signal number the client got (Ctrl-C: "2"), as text
 *   agent -> client  O / E  stdout / stderr bytes
 *                    X  the exit code, as text; the last frame
 *                    L  "run it yourself": a CALLER_SIDE command (it needs the caller's stdin,
 *                       terminal or files: the caller's process runs it as a client of the
 *                       agent's HTTP API), or a request this agent does not understand
 * It stays beside the HTTP API as the CLI's fast path: a command line in, its output out, in
 * one round trip from a static C client (`run --rm` ~40 ms against ~100 ms for Node's start).
 * Only root reaches the socket: it is in a directory of mode 0700.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { Runtime } from "../containers.ts";
import { encodeFrame as frame, frameReader } from "@paas/shared/agent-api";
import { CALLER_SIDE, runCli } from "../cli-program.ts";

const VERSION = "paas-cli/1";
/** A unix socket's path is at most 107 bytes (sun_path). */
const MAX_PATH = 107;

/** A request is a command line and an environment: far below this. */
const MAX_REQUEST = 4 << 20;

function parseRequest(payload: Buffer): { argv: string[]; env: NodeJS.ProcessEnv } | undefined {
  const parts = payload.toString("utf8").split("\0");
  if (parts[parts.length - 1] === "") parts.pop();
  const argc = Number(parts[1]);
  if (parts[0] !== VERSION || !Number.isInteger(argc) || argc < 0 || parts.length < 2 + argc) return undefined;
  const env: NodeJS.ProcessEnv = {};
  for (const kv of parts.slice(2 + argc)) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { argv: parts.slice(2, 2 + argc), env };
}

/** The client reads a frame whole into a 64 KiB buffer. */
const MAX_FRAME = 32 << 10;

/** A stream whose bytes go to the client as frames of `type`, with the socket's backpressure. */
function framedOut(sock: net.Socket, type: string): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      // a client that hung up loses the output; the command itself goes on to its end
      if (sock.destroyed || sock.writableEnded) return cb();
      let flowing = true;
      for (let i = 0; i < chunk.length; i += MAX_FRAME) flowing = sock.write(frame(type, chunk.subarray(i, i + MAX_FRAME)));
      if (flowing) return cb();
      const done = () => {
        sock.off("drain", done);
        sock.off("close", done);
        cb();
      };
      sock.on("drain", done);
      sock.on("close", done);
    },
  });
}

function serve(sock: net.Socket, rt: Runtime) {
  let started = false;
  let ended = false;
  const end = (code: number) => {
    if (!ended && !sock.destroyed) sock.end(frame("X", String(code)));
    ended = true;
  };
  const interrupts: (() => void)[] = [];
  const gone = new AbortController();
  sock.on("error", () => {});
  sock.on("close", () => gone.abort());
  sock.on(
    "data",
    frameReader((type, payload) => {
      if (type === "S") {
        // A command that handles no signal (logs -f, wait) ends as a process would on it:
        // the client exits 128+N at once and what the command follows is let go.
        if (!interrupts.length) {
          gone.abort();
          end(128 + (Number(String(payload)) || 2));
        }
        for (const fn of interrupts) fn();
        return;
      }
      if (type !== "R" || started) return;
      started = true;
      const req = parseRequest(payload);
      const command = req?.argv.find((a) => !a.startsWith("-"));
      if (!req || (command !== undefined && CALLER_SIDE.has(command))) {
        sock.end(frame("L", ""));
        return;
      }
      const stdout = framedOut(sock, "O");
      const stderr = framedOut(sock, "E");
      const io = {
        stdout,
        stderr,
        stdin: Readable.from([]),
        isTTY: false,
        env: req.env,
        onInterrupt: (fn: () => void) => void interrupts.push(fn),
        // A client that is gone stops followers (logs -f); a container it ran is left to
        // run to its end (and is removed then, with --rm), as docker does.
        signal: gone.signal,
      };
      // (CALLER_SIDE commands never get here: their streams are the caller's)
      void runCli(req.argv, io, { runtime: () => rt, streams: () => rt, init: async () => {} })
        .then(async (code) => {
          stdout.end();
          stderr.end();
          await Promise.all([finished(stdout), finished(stderr)]).catch(() => {});
          end(code ?? 0);
        })
        .catch((err) => {
          console.error(`agent: CLI command failed: ${(err as Error).stack}`);
          sock.destroy();
        });
    }, () => sock.destroy(), MAX_REQUEST),
  );
}

/**
 * Listens on `<data>/runtime/sock/cli.sock`. Throws when the path is too long for a unix
 * socket: without it no CLI finds the agent (and --local would write beside it). An agent
 * that stops removes the file first.
 */
export function listenCliSocket(rt: Runtime): net.Server {
  const file = rt.cliSocket;
  if (Buffer.byteLength(file) > MAX_PATH) {
    throw new Error(`the CLI socket path ${file} is over ${MAX_PATH} bytes (a unix socket's limit); use a shorter PAAS_DATA_DIR`);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.chmodSync(path.dirname(file), 0o700);
  // left by an agent that was killed: nobody listens on it any more
  fs.rmSync(file, { force: true });
  const server = net.createServer((sock) => serve(sock, rt));
  server.listen(file);
  return server;
}
