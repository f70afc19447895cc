import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { archiveKind, extractArchive } from "./archive.ts";

/** A scratch dir with a tree `src/` and archives of it made by the system's tools. */
function scratch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-archive-test-"));
  fs.mkdirSync(path.join(dir, "src/sub"), { recursive: true });
  fs.writeFileSync(path.join(dir, "src/a.txt"), "a\n");
  fs.writeFileSync(path.join(dir, "src/sub/run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { cwd: dir });
  sh("tar -C src -cf plain.tar . && tar -C src -czf z.tgz . && tar -C src -cjf j.tar.bz2 . && tar -C src -cJf x.tar.xz .");
  sh("printf 'not a tar\\n' > notes.txt && gzip -k notes.txt && cp plain.tar renamed.bin");
  return dir;
}

test("archives are told by content: tar, gzip, bzip2, xz; a lone .gz or a text file is none", async () => {
  const dir = scratch();
  try {
    const kind = (f: string) => archiveKind(path.join(dir, f));
    assert.equal(await kind("plain.tar"), "tar");
    assert.equal(await kind("renamed.bin"), "tar", "the name does not matter");
    assert.equal(await kind("z.tgz"), "gzip");
    assert.equal(await kind("j.tar.bz2"), "bzip2");
    assert.equal(await kind("x.tar.xz"), "xz");
    assert.equal(await kind("notes.txt.gz"), undefined, "gzip of a non-tar is copied as it is");
    assert.equal(await kind("notes.txt"), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("every kind unpacks to the same tree, modes kept", async () => {
  const dir = scratch();
  try {
    for (const [f, k] of [["plain.tar", "tar"], ["z.tgz", "gzip"], ["j.tar.bz2", "bzip2"], ["x.tar.xz", "xz"]] as const) {
      const out = path.join(dir, `out-${k}`);
      assert.deepEqual(await extractArchive(path.join(dir, f), k, out), []);
      assert.equal(fs.readFileSync(path.join(out, "a.txt"), "utf8"), "a\n");
      assert.equal(fs.statSync(path.join(out, "sub/run.sh")).mode & 0o111, 0o111, `${k}: executable bit kept`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a hostile archive cannot write outside the destination", async () => {
  const dir = scratch();
  try {
    // ../escaped.txt and an absolute path, written by GNU tar with -P (keep them as given).
    fs.writeFileSync(path.join(dir, "escaped.txt"), "x\n");
    execFileSync("sh", ["-c", `tar -cPf evil.tar src/a.txt ../${path.basename(dir)}/escaped.txt ${path.join(dir, "escaped.txt")}`], { cwd: dir });
    fs.rmSync(path.join(dir, "escaped.txt"));
    const out = path.join(dir, "deep/out");
    const skipped = await extractArchive(path.join(dir, "evil.tar"), "tar", out);
    assert.equal(fs.existsSync(path.join(dir, "escaped.txt")), false, "nothing written next to the destination");
    assert.equal(fs.existsSync(path.join(dir, "deep/escaped.txt")), false);
    assert.ok(fs.existsSync(path.join(out, "src/a.txt")));
    assert.ok(skipped.some((w) => /\.\./.test(w)), `the .. entry is reported: ${skipped}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a truncated archive fails", async () => {
  const dir = scratch();
  try {
    const full = fs.readFileSync(path.join(dir, "z.tgz"));
    fs.writeFileSync(path.join(dir, "cut.tgz"), full.subarray(0, Math.floor(full.length / 2)));
    await assert.rejects(extractArchive(path.join(dir, "cut.tgz"), "gzip", path.join(dir, "cut")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
