/**
 * Where COPY and ADD put their sources, by the Dockerfile reference's rules:
 * - a destination ending in `/` (or `.`, `/.`: the directory itself) is a directory;
 * - so is one that exists in the image as a directory (the sources go into it, not over it);
 * - several sources (listed, or a wildcard matching more than one) need a directory;
 * - otherwise the destination names the one source itself: a file is written there under
 *   that name, a directory's contents (or an ADDed archive's) go to a directory there.
 * A relative destination is relative to WORKDIR; missing directories on the way are made.
 */
import path from "node:path";

/** `into`: each source goes into this directory. `at`: the one source becomes this path. */
export type CopyDest = { into: string } | { at: string };

export class CopyDestError extends Error {}

/** The destination as written says "a directory" by itself (no look at the image needed). */
export const namesDirectory = (dest: string): boolean => dest === "." || dest.endsWith("/") || dest.endsWith("/.");

/** `dest` resolved against `workdir` (absolute, normalized, no trailing slash). */
export const destPath = (dest: string, workdir: string): string => path.posix.resolve(workdir, dest);

/**
 * `sources`: how many files and directories are copied (wildcards expanded);
 * `isDirectory`: the resolved destination is a directory in the image (or the WORKDIR about to be made).
 */
export function resolveCopyDest(dest: string, workdir: string, sources: number, isDirectory: boolean): CopyDest {
  const abs = destPath(dest, workdir);
  if (namesDirectory(dest) || isDirectory) return { into: abs };
  if (sources > 1) {
    throw new CopyDestError(`with more than one source the destination must be a directory ending in "/": write ${dest}/`);
  }
  return { at: abs };
}
