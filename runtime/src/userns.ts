/**
 * User namespaces: root in a container is not root on the host.
 *
 * Each team gets its own range of 65536 host ids (container uid N = host uid BASE+N), so a
 * process that escaped one team's containers would own nothing of another's. Image layers
 * and volumes stay stored with the ids the container sees (uid 0 on disk = root inside):
 * paas-run mounts them idmapped. Only a container's upper dir holds host ids (BASE+N); what
 * is read out of it (commit, export) is shifted back, what is put in (putArchive) shifted up.
 *
 * On by default where the kernel can do it (an overlay over idmapped layers, Linux 5.19+);
 * PAAS_USERNS=off turns it off (containers then run as the image's user, host ids).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Transform } from "node:stream";
import { Header } from "tar";
import type { Layout } from "./paths.ts";
import { RuntimeError, helperPath, randomHex, readJson, writeJson } from "./util.ts";

export const USERNS_SIZE = 65536;
const FIRST_BASE = 100_000;

/**
 * Where paas-run keeps each range's user namespace, bind-mounted on `<dir>/<BASE>` and
 * shared by every container of the team (kept_userns in native/paas-run/userns.c, which owns the rule):
 * made at a team's first start, gone at reboot, never released (nor are the ranges).
 */
export const USERNS_KEEP_DIR = "/run/paas-userns";

let probed: boolean | undefined;

/**
 * Whether containers get a user namespace here. Probed once per boot (the answer is kept
 * in <root>/userns/probe with the boot id: a CLI call must not pay for the probe's mounts).
 */
export function usernsEnabled(layout: Layout): boolean {
  if (/^(0|off|false|no)$/i.test(process.env.PAAS_USERNS ?? "")) return false;
  if (probed !== undefined) return probed;
  const boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  const file = path.join(layout.root, "userns", "probe.json");
  const kept = readJson<{ boot: string; ok: boolean }>(file);
  if (kept?.boot === boot) return (probed = kept.ok);
  const scratch = path.join(layout.tmp, `userns-probe-${randomHex(6)}`);
  fs.mkdirSync(scratch, { recursive: true });
  try {
    // the probe mounts in a namespace of its own: nothing is left mounted here
    probed = spawnSync(helperPath(), ["userns-probe", scratch], { stdio: "ignore" }).status === 0;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeJson(file, { boot, ok: probed });
  return probed;
}

/**
 * The team's host id base, allocated once and kept in <root>/userns/: a range is claimed
 * by creating its file exclusively, so two processes never take the same one.
 */
export function usernsBaseFor(runtimeRoot: string, team: string): number {
  if (!/^[a-zA-Z0-9_.-]+$/.test(team)) throw new RuntimeError(`bad team name "${team}"`, 400);
  const dir = path.join(runtimeRoot, "userns");
  fs.mkdirSync(dir, { recursive: true });
  const teamFile = path.join(dir, `team-${team}.json`);
  const known = readJson<{ base: number }>(teamFile);
  if (known) return known.base;
  for (let k = 0; FIRST_BASE + k * USERNS_SIZE + USERNS_SIZE <= 2 ** 32 - 2; k++) {
    const base = FIRST_BASE + k * USERNS_SIZE;
    try {
      fs.writeFileSync(path.join(dir, `range-${base}`), `${team}\n`, { flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw err;
    }
    writeJson(teamFile, { base });
    return base;
  }
  throw new RuntimeError("no user namespace id range left on this host", 507);
}

/** Host id -> the id the container sees (ids outside the range, e.g. set-up's root-owned mount points, stay). */
export function toContainerId(base: number | undefined, id: number): number {
  return base !== undefined && id >= base && id < base + USERNS_SIZE ? id - base : id;
}

/** Container id -> host id. */
export function toHostId(base: number | undefined, id: number): number {
  return base === undefined ? id : base + id;
}

/**
 * Re-owns every entry under `root` (itself included) by `map`. lchown clears setuid/setgid
 * bits, so they are put back.
 */
export function shiftOwners(root: string, map: (id: number) => number) {
  const visit = (p: string) => {
    const st = fs.lstatSync(p);
    const uid = map(st.uid);
    const gid = map(st.gid);
    if (uid !== st.uid || gid !== st.gid) {
      fs.lchownSync(p, uid, gid);
      if (!st.isSymbolicLink() && st.mode & 0o6000) fs.chmodSync(p, st.mode & 0o7777);
    }
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) visit(path.join(p, n));
  };
  visit(root);
}

/**
 * A tar stream with its owners mapped by `map` (the header's uid/gid fields rewritten in
 * place, the checksum redone; everything else passes as it is). For what tar reads out of a
 * user-namespaced container, whose upper dir holds host ids.
 */
export function mapTarIds(map: (id: number) => number): Transform {
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0; // data blocks of the current entry still to pass through
  const field = (b: Buffer, off: number, value: number) => {
    if (value > 0o7777777) throw new Error(`id ${value} does not fit a tar header`);
    b.write(`${value.toString(8).padStart(7, "0")}\0`, off, 8, "ascii");
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const out: Buffer[] = [];
      let off = 0;
      try {
        while (pending.length - off >= 512) {
          const block = Buffer.from(pending.subarray(off, off + 512));
          off += 512;
          if (skip > 0) skip--;
          else if (!block.every((x) => x === 0)) {
            const h = new Header(block);
            skip = Math.ceil((h.size ?? 0) / 512);
            const uid = map(h.uid ?? 0);
            const gid = map(h.gid ?? 0);
            if (uid !== h.uid || gid !== h.gid) {
              field(block, 108, uid);
              field(block, 116, gid);
              block.fill(0x20, 148, 156);
              let sum = 0;
              for (const x of block) sum += x;
              block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
            }
          }
          out.push(block);
        }
      } catch (err) {
        return done(err as Error);
      }
      pending = pending.subarray(off);
      done(null, out.length ? Buffer.concat(out) : undefined);
    },
    flush(done) {
      done(null, pending.length ? pending : undefined);
    },
  });
}
