// Logic of the pre-receive hook, apart from its I/O so it can be tested.
// Plain ESM JavaScript without dependencies: the hook must start fast.

/**
 * Colour for the pusher's terminal. Git gives the hook no tty, so we cannot
 * know whether the client is one: colour is asked for with a push option
 * (`git push -o color`), default plain.
 */
export function wantsColor(env) {
  const n = Number(env.GIT_PUSH_OPTION_COUNT || 0);
  for (let i = 0; i < n; i++) {
    if (/^colou?r(=(1|on|true|always))?$/.test(env[`GIT_PUSH_OPTION_${i}`] || "")) return true;
  }
  return false;
}

/** Heroku's colours: steps bold, errors red, the deployed line green. */
export function colorize(line) {
  if (line.startsWith("-----> Deployed")) return `\x1b[1;32m${line}\x1b[0m`;
  if (line.startsWith("----->")) return `\x1b[1m${line}\x1b[0m`;
  if (line.startsWith(" !")) return `\x1b[31m${line}\x1b[0m`;
  return line;
}

/** Splits a byte stream into lines as they complete. */
export class LineSplitter {
  #rest = "";
  #decoder = new TextDecoder();
  /** Returns the lines completed by this chunk. */
  push(chunk) {
    const text = this.#rest + this.#decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
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
 * What to print for one NDJSON event of the build log, and whether it ends
 * the build: { print: string[], done?: { ok: boolean } }. `printed` is what was
 * printed before: the worker's log usually says the URL or the error already,
 * and the pusher should not read it twice.
 */
export function renderEvent(ev, printed = []) {
  if (typeof ev.line === "string") return { print: [ev.line] };
  if (typeof ev.notice === "string") return { print: [ev.notice] };
  const said = (text) => printed.some((l) => l.includes(text));
  if (ev.status === "succeeded") {
    if (ev.url) return { print: said(ev.url) ? [] : [`-----> Deployed to ${ev.url}`], done: { ok: true } };
    return { print: ["-----> Build succeeded"], done: { ok: true } };
  }
  if (ev.status) {
    const error = typeof ev.error === "string" && ev.error ? ev.error : "";
    return {
      print: [
        ...(error && said(error) ? [] : [` !     Build failed${error ? `: ${error}` : ""}`]),
        " !     Push rejected: the running release keeps serving",
      ],
      done: { ok: false },
    };
  }
  return { print: [] };
}
