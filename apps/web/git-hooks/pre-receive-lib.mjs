// Logic of the pre-receive hook, apart from its I/O so it can be tested (the build log's
// rendering is packages/shared/src/build-log.mjs's).
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
