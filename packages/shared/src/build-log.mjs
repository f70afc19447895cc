// A build's log: the one module that knows its format, from the worker's
// writes to what a terminal or the dashboard shows. Plain ESM JavaScript
// without dependencies, so the git hook (run by plain node, and fast to start)
// imports it as the worker, the web app, the CLI and the dashboard do.
//
// In Redis (stream buildLogKey(id)): entries `line <text>` as the build goes,
// and last `status succeeded|failed [url <url>] [error <reason>]`.
// On the wire (NDJSON or SSE data), one JSON event per entry:
//   {"id":"<stream id>","line":"-----> Installing dependencies"}
//   {"notice":"-----> Waiting for a build worker ..."}            (said by the follower, not stored)
//   {"id":"<stream id>","status":"succeeded","url":"http://..."}    (last)
//   {"id":"<stream id>","status":"failed","error":"..."}            (last)
// `id` lets a reader that lost the connection resume after it.
// Lines: Heroku's format, `-----> Step` for steps, 7 spaces before output, ` !     ` before errors.

export const STEP_PREFIX = "-----> ";
export const INFO_INDENT = "       ";
export const ERROR_PREFIX = " !     ";
/** Keep a finished build's stream around for late readers, then let Redis drop it. */
export const STREAM_TTL_SECONDS = 24 * 3600;

// ---- writer: the fields of a stream entry

export const lineEntry = (line) => ["line", line];

export function endEntry(status, { url, error } = {}) {
  const fields = ["status", status];
  if (url) fields.push("url", url);
  if (error) fields.push("error", error);
  return fields;
}

// ---- reader: a stream entry as an event

export function entryToEvent(id, fields) {
  const f = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  if (f.status !== undefined) {
    if (f.status === "succeeded") return { id, status: "succeeded", url: f.url };
    // Anything but success is a failure: a push must never pass on a status we do not know.
    const error = f.error || (f.status === "failed" ? undefined : `unknown build status "${f.status}"`);
    return { id, status: "failed", error };
  }
  if (f.line !== undefined) return { id, line: f.line };
  return null;
}

export const isEnd = (ev) => "status" in ev;

// ---- the wire

export const toNdjson = (ev) => `${JSON.stringify(ev)}\n`;
export const toSse = (ev) => `${ev.id ? `id: ${ev.id}\n` : ""}data: ${JSON.stringify(ev)}\n\n`;

/** Splits a byte stream into lines as they complete (multi-byte characters may be cut across chunks). */
export class LineSplitter {
  #rest = "";
  #decoder = new TextDecoder();
  /** The lines completed by this chunk. */
  push(chunk) {
    const lines = (this.#rest + this.#decoder.decode(chunk, { stream: true })).split("\n");
    this.#rest = lines.pop();
    return lines;
  }
  /** The last, unterminated line, if any. */
  end() {
    const rest = this.#rest + this.#decoder.decode();
    this.#rest = "";
    return rest ? [rest] : [];
  }
}

/**
 * The follower of an NDJSON log over HTTP (the git hook, the CLI): `open(after)`
 * answers { status, body, error() } for the events after stream id `after`;
 * each event goes to `onEvent`. A dropped connection is resumed after the last
 * event seen. Resolves with the final event.
 */
export async function followNdjson({ open, onEvent, retries = 5, pause = (ms) => new Promise((r) => setTimeout(r, ms)) }) {
  let after = "0";
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await open(after);
    } catch (err) {
      // The web process may be restarting; the build goes on in the worker.
      if (attempt >= retries) throw new FollowError(`cannot reach the build log (${err.code || err.message})`);
      await pause(1000 * (attempt + 1));
      continue;
    }
    if (res.status !== 200) throw new FollowError(`cannot read the build log: ${await res.error()}`);
    const lines = new LineSplitter();
    try {
      for await (const chunk of res.body) {
        for (const line of lines.push(chunk)) {
          if (!line.trim()) continue;
          const ev = JSON.parse(line);
          if (ev.id) after = ev.id;
          onEvent(ev);
          if (isEnd(ev)) return ev;
        }
      }
    } catch {
      // Dropped mid-stream: resume after the last event.
    }
    if (attempt >= retries) throw new FollowError("lost the build log before the build ended");
    await pause(1000);
  }
}

export class FollowError extends Error {}

// ---- showing it

/** What a line is, for colour in a terminal and style on the dashboard. */
export function lineKind(line) {
  if (line.startsWith(`${STEP_PREFIX}Deployed`)) return "deployed";
  if (/^\s*----->/.test(line)) return "step";
  if (line.startsWith(" !")) return "error";
  return "plain";
}

/** Heroku's colours: steps bold, errors red, the deployed line green. */
export function colorize(line) {
  switch (lineKind(line)) {
    case "deployed":
      return `\x1b[1;32m${line}\x1b[0m`;
    case "step":
      return `\x1b[1m${line}\x1b[0m`;
    case "error":
      return `\x1b[31m${line}\x1b[0m`;
    default:
      return line;
  }
}

/**
 * The lines a terminal shows for one event, and whether it ends the build:
 * { print: string[], done?: { ok } }. `printed` is what was shown before: the
 * worker's log usually says the URL or the error already, and no one should read it twice.
 */
export function renderEvent(ev, printed = []) {
  if (typeof ev.line === "string") return { print: [ev.line] };
  if (typeof ev.notice === "string") return { print: [ev.notice] };
  const said = (text) => printed.some((l) => l.includes(text));
  if (ev.status === "succeeded") {
    if (ev.url) return { print: said(ev.url) ? [] : [`${STEP_PREFIX}Deployed to ${ev.url}`], done: { ok: true } };
    return { print: [`${STEP_PREFIX}Build succeeded`], done: { ok: true } };
  }
  if (ev.status) {
    const error = typeof ev.error === "string" && ev.error ? ev.error : "";
    return {
      print: [...(error && said(error) ? [] : [`${ERROR_PREFIX}Build failed${error ? `: ${error}` : ""}`])],
      done: { ok: false },
    };
  }
  return { print: [] };
}
