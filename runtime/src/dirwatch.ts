/**
 * Waiting on a container without polling. Its monitor writes every log line to
 * `log.ndjson` and, at exit, `status.json` (tmp + rename) in the container's dir, so
 * inotify on that dir (fs.watch) wakes a waiter for each of them, whichever process
 * started the container (a re-adopting agent, the CLI, another CLI).
 *
 * No lost wake-up: a waiter takes `seq` BEFORE it reads the files, then awaits
 * `changed(seq)`. An event for anything written after that read bumps `seq` later, so
 * `changed` resolves at once or when the event arrives; an event for what was already
 * read only costs a spurious re-check.
 *
 * What inotify cannot see: a monitor killed before it wrote status.json (SIGKILL, the
 * OOM killer) writes nothing, so `changed` also resolves after `maxMs` and the caller
 * re-checks the monitor's pid. When no watch can be made (inotify limits), every wait
 * is that timer alone, at FALLBACK_MS.
 */
import fs from "node:fs";

/** Re-check interval for what no file event reports (a monitor that died without a word). */
export const SAFETY_MS = 1000;
/** Poll interval when inotify is not available. */
export const FALLBACK_MS = 50;

export class DirWatch {
  private n = 0;
  private waiters = new Set<() => void>();
  private watcher?: fs.FSWatcher;

  /** `names`: the files whose changes matter (others, like the caller's own writes, wake nobody). */
  constructor(dir: string, names?: (file: string) => boolean) {
    try {
      this.watcher = fs.watch(dir, { persistent: false }, (_event, file) => {
        if (!names || !file || names(String(file))) this.bump();
      });
      // e.g. the dir was removed: from now on waits are timed, and callers re-check now
      this.watcher.on("error", () => {
        this.watcher?.close();
        this.watcher = undefined;
        this.bump();
      });
    } catch {
      this.watcher = undefined;
    }
  }

  /** Changes seen so far; take it before reading the files. */
  get seq(): number {
    return this.n;
  }

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  private bump() {
    this.n++;
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once a change after `since` is seen, after `maxMs`, or when `signal` aborts. */
  changed(since: number, maxMs = SAFETY_MS, signal?: AbortSignal): Promise<void> {
    if (this.n !== since || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, this.watcher ? maxMs : Math.min(maxMs, FALLBACK_MS)));
      this.waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  close() {
    this.watcher?.close();
    this.watcher = undefined;
    for (const w of [...this.waiters]) w();
  }
}
