/**
 * ADD of a local tar archive: docker unpacks it (plain, gzip, bzip2 or xz) rather than
 * copying it, telling an archive by its content, not its name. A compressed file that is not
 * a tar inside (a lone .gz) is copied as it is, as docker does.
 *
 * Unpacking runs on the worker's disk, into a staging dir only: node-tar refuses absolute
 * paths, `..` and writes through symlinks, so a hostile archive cannot reach beyond it.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import * as tar from "tar";

export type ArchiveKind = "tar" | "gzip" | "bzip2" | "xz";

/** Is there a tar header at the start of `b` (ustar magic at 257, or a v7 header with a valid checksum)? */
export function looksLikeTar(b: Buffer): boolean {
  if (b.length < 512) return false;
  if (b.toString("latin1", 257, 262) === "ustar") return true;
  // Old v7 tars have no magic: the header checksum tells.
  const stored = parseInt(b.toString("latin1", 148, 156).replace(/[\0 ]+$/, "").trim(), 8);
  if (!Number.isFinite(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i];
  return sum === stored && b[0] !== 0;
}

function compression(magic: Buffer): Exclude<ArchiveKind, "tar"> | undefined {
  if (magic[0] === 0x1f && magic[1] === 0x8b) return "gzip";
  if (magic.toString("latin1", 0, 3) === "BZh") return "bzip2";
  if (magic.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return "xz";
  return undefined;
}

/** The file's content decompressed, as a stream (gzip in-process; bzip2/xz by Debian's tools). */
function decompressed(file: string, kind: ArchiveKind): { stream: Readable; done: Promise<void> } {
  if (kind === "tar") return { stream: fs.createReadStream(file), done: Promise.resolve() };
  if (kind === "gzip") {
    const src = fs.createReadStream(file);
    const gz = zlib.createGunzip();
    src.on("error", (e) => gz.destroy(e));
    gz.on("close", () => src.destroy());
    return { stream: src.pipe(gz), done: Promise.resolve() };
  }
  const p = spawn(kind === "bzip2" ? "bzip2" : "xz", ["-dc", file], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  p.stderr.on("data", (d) => (err += d));
  const done = new Promise<void>((resolve, reject) => {
    p.on("error", (e) => reject(new Error(`cannot run ${kind === "bzip2" ? "bzip2" : "xz"}: ${e.message}`)));
    p.on("close", (code, signal) => (code === 0 || signal === "SIGTERM" ? resolve() : reject(new Error(err.trim() || `${kind} -d failed (${code})`))));
  });
  return { stream: p.stdout, done: done.finally(() => p.kill()) };
}

/** The first `n` bytes of a stream (fewer when it is shorter), then it is closed. */
async function head(stream: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    for await (const c of stream) {
      chunks.push(c as Buffer);
      got += (c as Buffer).length;
      if (got >= n) break;
    }
  } catch {
    // A corrupt stream: whatever came before the error decides.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, n);
}

/** What kind of tar archive `file` is, or undefined when it is none (then ADD copies it). */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const fh = await fsp.open(file, "r");
  const first = Buffer.alloc(512);
  try {
    await fh.read(first, 0, 512, 0);
  } finally {
    await fh.close();
  }
  const kind = compression(first);
  if (!kind) return looksLikeTar(first) ? "tar" : undefined;
  const d = decompressed(file, kind);
  d.done.catch(() => {});
  return looksLikeTar(await head(d.stream, 512)) ? kind : undefined;
}

/**
 * Unpacks `file` (an archive of `kind`) into `into`; owners are not kept (the files are the
 * build's). Returns what was skipped and why (unsafe paths, entry types a layer cannot hold).
 */
export async function extractArchive(file: string, kind: ArchiveKind, into: string): Promise<string[]> {
  await fsp.mkdir(into, { recursive: true });
  const skipped: string[] = [];
  const d = decompressed(file, kind);
  const x = tar.x({ cwd: into, preserveOwner: false, onwarn: (_code, message) => void skipped.push(String(message)) });
  await Promise.all([pipeline(d.stream, x as unknown as NodeJS.WritableStream), d.done]);
  return skipped;
}
