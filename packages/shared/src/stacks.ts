/**
 * The base images every host makes at set-up (runtime/src/stacks.ts builds them from Debian's
 * packages; none is pulled) and that a Dockerfile's FROM may name. One list, read by the
 * runtime that makes them and the worker that resolves FROM.
 */

/** Our names: run images, and build images whose layers start with their run image's. */
export const STACK_IMAGES = ["stack/run", "stack/build", "stack/node", "stack/node-build", "stack/python", "stack/python-build", "stack/busybox"] as const;

/**
 * Docker's official repositories whose usual tags resolve to those stacks (debian:bookworm-slim,
 * node:20-slim, python:3.11, ...): the host's node major and Debian's python minor are the tags.
 */
export const OFFICIAL_REPOS = ["debian", "node", "python"] as const;

/** Whether `ref` (repo[:tag]) names one of the base images (the tag is the host's to answer). */
export function isBaseImage(ref: string): boolean {
  const slash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", slash + 1);
  const repo = colon < 0 ? ref : ref.slice(0, colon);
  return (STACK_IMAGES as readonly string[]).includes(repo) || (OFFICIAL_REPOS as readonly string[]).includes(repo);
}
