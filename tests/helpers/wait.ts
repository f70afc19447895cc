/** Waiting on an event under a deadline, instead of sleeping and hoping it happened. */

/** Resolves once `check` returns true; fails naming `what` when `timeoutMs` passes first. */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for: ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
