/**
 * What a drain receives: each line of the app's log stream as an RFC 5424 syslog message, framed
 * by octet counting (RFC 6587 3.4.1: `LEN SP MSG`, LEN the message's bytes). Syslog drains get the
 * frames one after another on the connection; https drains get them in batches, each one POST
 * with Heroku's logplex framing (Content-Type application/logplex-1, Logplex-Msg-Count,
 * Logplex-Frame-Id), so what accepts a Heroku drain accepts ours.
 *
 *   <190>1 2026-12-03T10:00:00.123Z localhost myapp web.1 - - listening on 5000
 *   <187>1 ...                                  (stderr: severity err)
 *   <190>1 2026-12-03T10:00:01.000Z localhost myapp paas deploy - Deployed v3
 *
 * APP-NAME is the app, PROCID the replica (`web.1`), or `paas` for the platform's lines with
 * what spoke as MSGID (`deploy`, `web.1`); the timestamp is the line's own.
 */
import { randomUUID } from "node:crypto";
import type { AppLogEntry } from "@paas/shared/app-log";

/** local7 (23), as Heroku's logplex: info (6) for stdout and platform lines, err (3) for stderr. */
const FACILITY = 23;
const SEVERITY_ERR = 3;
const SEVERITY_INFO = 6;

/** Header fields: printable US-ASCII without spaces, at most `max` characters, "-" when empty. */
function field(s: string, max: number): string {
  const clean = s.replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return clean || "-";
}

/** The line's own time (RFC 3339, as the stream keeps it); now when it has none that parses. */
function timestamp(t: string): string {
  const ms = Date.parse(t);
  return new Date(Number.isNaN(ms) ? Date.now() : ms).toISOString();
}

export function syslogMessage(e: Pick<AppLogEntry, "t" | "src" | "type" | "replica" | "stream" | "line">, app: string, hostname: string): string {
  const pri = FACILITY * 8 + (e.stream === "stderr" ? SEVERITY_ERR : SEVERITY_INFO);
  const who = e.replica ? `${e.type}.${e.replica}` : e.type;
  const procid = e.src === "platform" ? "paas" : who;
  const msgid = e.src === "platform" ? who : "-";
  // A line the app wrote to a file under its log volume says which file.
  const text = e.stream.startsWith("file:") ? `[${e.stream.slice(5)}] ${e.line}` : e.line;
  return `<${pri}>1 ${timestamp(e.t)} ${field(hostname, 255)} ${field(app, 48)} ${field(procid, 128)} ${field(msgid, 32)} - ${text}`;
}

/** `LEN SP MSG` (RFC 6587 octet counting). */
export const octetFrame = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;

export interface LogplexBatch {
  body: string;
  headers: Record<string, string>;
}

/** One https POST: the frames of `messages` and logplex's headers (the batch's frame id: a retry of it sends the same one). */
export function logplexBatch(messages: string[], drainToken: string, frameId: string = randomUUID()): LogplexBatch {
  return {
    body: messages.map(octetFrame).join(""),
    headers: {
      "content-type": "application/logplex-1",
      "logplex-msg-count": String(messages.length),
      "logplex-frame-id": frameId,
      "logplex-drain-token": drainToken,
      "user-agent": "paas-logplex/1",
    },
  };
}

/** Splits an octet-counted body back into messages (for tests and for tools that read ours); throws on a bad frame. */
export function parseOctetFrames(body: Buffer | string): string[] {
  const buf = typeof body === "string" ? Buffer.from(body) : body;
  const out: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    const len = Number(buf.subarray(i, sp).toString());
    if (sp < 0 || !Number.isInteger(len) || len <= 0 || sp + 1 + len > buf.length) throw new Error(`bad octet-counted frame at byte ${i}`);
    out.push(buf.subarray(sp + 1, sp + 1 + len).toString());
    i = sp + 1 + len;
  }
  return out;
}
