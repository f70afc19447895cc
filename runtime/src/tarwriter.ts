/**
 * Writes a directory as a layer tar (ustar + PAX for long names), the way OCI layers
 * are: overlayfs whiteouts (char device 0/0) become `.wh.NAME` entries and opaque
 * directories get a `.wh..wh..opq` entry. Entries are sorted so that the same tree
 * gives the same digest.
 */
import fs from "node:fs";
import path from "node:path";

export type Sink = (chunk: Buffer) => void;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: string, opts: { mode: number; uid: number; gid: number; size: number; mtime: number; type: string; linkname?: string }): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, "utf8");
  b.write(octal(opts.mode & 0o7777, 8), 100, "ascii");
  b.write(octal(opts.uid, 8), 108, "ascii");
  b.write(octal(opts.gid, 8), 116, "ascii");
  b.write(octal(opts.size, 12), 124, "ascii");
  b.write(octal(Math.floor(opts.mtime), 12), 136, "ascii");
  b.write("        ", 148, "ascii");
  b.write(opts.type, 156, "ascii");
  if (opts.linkname) b.write(opts.linkname, 157, 100, "utf8");
  b.write("ustar\0", 257, "ascii");
  b.write("00", 263, "ascii");
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i];
  b.write(octal(sum, 7) + " ", 148, "ascii");
  return b;
}

function pad(size: number): Buffer {
  const r = size % 512;
  return Buffer.alloc(r === 0 ? 0 : 512 - r);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function writeEntry(sink: Sink, name: string, opts: Parameters<typeof header>[1]) {
  const long = Buffer.byteLength(name) > 99 || (opts.linkname !== undefined && Buffer.byteLength(opts.linkname) > 99);
  if (long) {
    const pax = Buffer.from(paxRecord("path", name) + (opts.linkname ? paxRecord("linkpath", opts.linkname) : ""));
    sink(header("PaxHeader", { mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: opts.mtime, type: "x" }));
    sink(pax);
    sink(pad(pax.length));
  }
  sink(header(name.slice(0, 99), opts));
}

/**
 * Streams `root` as a tar to `sink`; returns the number of bytes written. `mapId` turns the
 * ids on disk into the ids the tar records (a user-namespaced container's upper dir).
 */
export function writeLayerTar(root: string, sink: Sink, opaqueDirs: Set<string> = new Set(), mapId: (id: number) => number = (id) => id): number {
  let total = 0;
  const out: Sink = (c) => {
    total += c.length;
    sink(c);
  };
  const inodes = new Map<string, string>();
  const buf = Buffer.alloc(1 << 20);
  const walk = (rel: string) => {
    const dir = path.join(root, rel);
    for (const name of fs.readdirSync(dir).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, name);
      const st = fs.lstatSync(full);
      const base = { mode: st.mode, uid: mapId(st.uid), gid: mapId(st.gid), mtime: st.mtimeMs / 1000, size: 0 };
      if (st.isCharacterDevice() && st.rdev === 0) {
        writeEntry(out, rel ? `${rel}/.wh.${name}` : `.wh.${name}`, { ...base, mode: 0o644, type: "0" });
      } else if (st.isDirectory()) {
        writeEntry(out, `${r}/`, { ...base, type: "5" });
        if (opaqueDirs.has(r)) writeEntry(out, `${r}/.wh..wh..opq`, { ...base, mode: 0o644, type: "0" });
        walk(r);
      } else if (st.isSymbolicLink()) {
        writeEntry(out, r, { ...base, type: "2", linkname: fs.readlinkSync(full) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first) {
          writeEntry(out, r, { ...base, type: "1", linkname: first });
          continue;
        }
        if (st.nlink > 1) inodes.set(key, r);
        writeEntry(out, r, { ...base, size: st.size, type: "0" });
        const fd = fs.openSync(full, "r");
        try {
          let left = st.size;
          while (left > 0) {
            const n = fs.readSync(fd, buf, 0, Math.min(buf.length, left), null);
            if (n <= 0) throw new Error(`${full} shrank while being archived`);
            out(Buffer.from(buf.subarray(0, n)));
            left -= n;
          }
        } finally {
          fs.closeSync(fd);
        }
        out(pad(st.size));
      }
      // sockets, fifos and real devices are not part of an image
    }
  };
  walk("");
  out(Buffer.alloc(1024));
  return total;
}
