/**
 * Running a CGI program (here `git http-backend`) behind a fetch-style handler:
 * the request body is piped to its stdin, its stdout's header block becomes the
 * Response's status and headers, and the rest streams out as the body while the
 * program still runs (a push's hook output must reach the pusher live).
 */
import { spawn } from "node:child_process";
import { Readable } from "node:stream";

export interface CgiHead {
  status: number;
  statusText: string;
  headers: [string, string][];
}

/** Header blocks larger than this are a broken program, not a response. */
export const MAX_CGI_HEAD = 64 * 1024;

/**
 * Parses the CGI header block at the start of `buf` (RFC 3875 section 6: lines
 * `Name: value` ended by CRLF or LF, then an empty line; `Status: 404 Not Found`
 * sets the status, default 200). Returns null while the block is incomplete,
 * and throws when it can never become valid.
 */
export function parseCgiHead(buf: Buffer): { head: CgiHead; body: Buffer } | null {
  let end = -1;
  let sepLen = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    // The end of a line followed by an empty line: "\n\n" or "\n\r\n".
    if (buf[i + 1] === 0x0a) {
      end = i + 1;
      sepLen = 1;
      break;
    }
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) {
      end = i + 1;
      sepLen = 2;
      break;
    }
  }
  if (end < 0) {
    if (buf.length > MAX_CGI_HEAD) throw new Error(`CGI header block larger than ${MAX_CGI_HEAD} bytes`);
    return null;
  }
  const text = buf.subarray(0, end).toString("latin1");
  const head: CgiHead = { status: 200, statusText: "OK", headers: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`malformed CGI header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") {
      const m = /^(\d{3})\s*(.*)$/.exec(value);
      if (!m) throw new Error(`malformed CGI Status header: ${JSON.stringify(value)}`);
      head.status = Number(m[1]);
      head.statusText = m[2] || "";
    } else {
      head.headers.push([name, value]);
    }
  }
  return { head, body: buf.subarray(end + sepLen) };
}

export interface CgiOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  body: ReadableStream<Uint8Array> | null;
  /** Called once when the program has exited (or failed to start). */
  onExit?: (code: number | null) => void;
  /** Headers set on the response over the program's (e.g. no-transform so nothing buffers it). */
  extraHeaders?: Record<string, string>;
}

/** Runs the program and resolves with a streaming Response once its headers are read. */
export async function runCgi(opts: CgiOptions): Promise<Response> {
  const child = spawn(opts.command, opts.args, { env: opts.env as NodeJS.ProcessEnv, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
  let exited = false;
  let stderr = "";
  const exit = new Promise<number | null>((resolve) => {
    const done = (code: number | null) => {
      if (exited) return;
      exited = true;
      opts.onExit?.(code);
      resolve(code);
    };
    child.on("error", (err) => {
      stderr += `${err.message}\n`;
      done(null);
    });
    child.on("close", (code) => done(code));
  });

  child.stderr.on("data", (d: Buffer) => {
    if (stderr.length < 16 * 1024) stderr += d.toString("utf8");
  });

  // The program may exit before reading its whole input (an error answer):
  // a broken pipe on stdin is expected then, not a crash.
  child.stdin.on("error", () => {});
  if (opts.body) {
    const input = Readable.fromWeb(opts.body as import("node:stream/web").ReadableStream<Uint8Array>);
    input.on("error", () => child.kill("SIGTERM"));
    input.pipe(child.stdin);
  } else {
    child.stdin.end();
  }

  const out = child.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let acc = Buffer.alloc(0);
  let parsed: ReturnType<typeof parseCgiHead> = null;
  try {
    while (!parsed) {
      const { value, done } = await out.next();
      if (done) break;
      acc = Buffer.concat([acc, value]);
      parsed = parseCgiHead(acc);
    }
  } catch (err) {
    child.kill("SIGTERM");
    await exit;
    return failure(`${opts.command} ${opts.args.join(" ")}: ${(err as Error).message}`);
  }
  if (!parsed) {
    const code = await exit;
    return failure(`${opts.command} ${opts.args.join(" ")} exited (${code}) without a response: ${stderr.trim()}`);
  }

  const headers = new Headers();
  for (const [k, v] of parsed.head.headers) headers.append(k, v);
  for (const [k, v] of Object.entries(opts.extraHeaders ?? {})) headers.set(k, v);
  const first = parsed.body;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.length) controller.enqueue(new Uint8Array(first));
    },
    async pull(controller) {
      try {
        const { value, done } = await out.next();
        if (done) {
          const code = await exit;
          if (code !== 0 && stderr.trim()) console.error(`git: ${opts.command} exited ${code}: ${stderr.trim()}`);
          controller.close();
        } else {
          controller.enqueue(new Uint8Array(value));
        }
      } catch (err) {
        controller.error(err);
      }
    },
    cancel() {
      // The client went away: nobody reads the answer any more.
      if (!exited) child.kill("SIGTERM");
    },
  });
  return new Response(body, { status: parsed.head.status, statusText: parsed.head.statusText, headers });
}

function failure(message: string): Response {
  console.error(`git: ${message}`);
  return new Response("internal error running git; see the server log\n", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
