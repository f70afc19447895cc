// Logic of the pre-receive hook, apart from its I/O so it can be tested.
// Plain ESM JavaScript without dependencies: the hook must start fast.

/** Git's null object id (sha1 or sha256): the "old" of a create, the "new" of a delete. */
export const isNullSha = (sha) => /^0+$/.test(sha);

/** Parses pre-receive's stdin: one `<old> <new> <ref>` per line. */
export function parseUpdates(text) {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [oldSha, newSha, ref] = l.split(/\s+/);
      return { oldSha, newSha, ref };
    });
}

/**
 * Decides a push: which update (at most one) to build, and why any others are
 * refused. Pre-receive accepts or rejects the push as a whole, so one refusal
 * rejects everything (nothing is built then).
 *
 * With `previews`, a push of another branch builds a preview app of that
 * branch (`preview: { branch }` in the answer), and deleting a branch
 * (`git push paas :feature-x`) removes its preview (`destroyPreview`).
 */
export function decidePush(updates, deployBranch, { previews = false } = {}) {
  const deployRef = `refs/heads/${deployBranch}`;
  const refusals = [];
  let build = null;
  let preview = null;
  let destroyPreview = null;
  for (const u of updates) {
    const branch = u.ref.startsWith("refs/heads/") ? u.ref.slice("refs/heads/".length) : null;
    if (u.ref === deployRef) {
      if (isNullSha(u.newSha)) {
        refusals.push(`deleting the deploy branch "${deployBranch}" is not allowed`);
      } else {
        build = u;
      }
    } else if (previews && branch) {
      if (isNullSha(u.newSha)) destroyPreview = branch;
      else {
        build = u;
        preview = { branch };
      }
    } else if (isNullSha(u.newSha)) {
      refusals.push(`deleting ${u.ref} is not allowed`);
    } else if (branch) {
      refusals.push(
        `only the "${deployBranch}" branch deploys; to deploy "${branch}" run: git push paas ${branch}:${deployBranch}`,
      );
    } else {
      refusals.push(`pushing ${u.ref} is not allowed: only the "${deployBranch}" branch is deployed`);
    }
  }
  if (previews && updates.length > 1) refusals.push("push one branch at a time: each branch deploys its own app");
  if (refusals.length) return { build: null, refusals };
  if (!previews) return { build, refusals };
  return { build, refusals, preview, destroyPreview };
}

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
