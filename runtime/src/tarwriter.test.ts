import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { writeLayerTar } from "./tarwriter.ts";

test("a layer tar reads back with GNU tar: files, modes, symlinks, long names, whiteouts", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paas-tarw-"));
  try {
    const src = path.join(dir, "src");
    const long = "d".repeat(60) + "/" + "f".repeat(80) + ".txt";
    fs.mkdirSync(path.join(src, path.dirname(long)), { recursive: true });
    fs.writeFileSync(path.join(src, long), "long name\n");
    fs.writeFileSync(path.join(src, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    fs.writeFileSync(path.join(src, "big.bin"), Buffer.alloc(3 << 20, 7));
    fs.symlinkSync("run.sh", path.join(src, "link"));
    fs.linkSync(path.join(src, "run.sh"), path.join(src, "hard.sh"));
    spawnSync("mknod", [path.join(src, "deleted"), "c", "0", "0"]);
    fs.mkdirSync(path.join(src, "opq"));
    const chunks: Buffer[] = [];
    const size = writeLayerTar(src, (c) => chunks.push(c), new Set(["opq"]));
    const tarFile = path.join(dir, "l.tar");
    fs.writeFileSync(tarFile, Buffer.concat(chunks));
    assert.equal(fs.statSync(tarFile).size, size);
    const list = spawnSync("tar", ["-tf", tarFile], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).sort();
    assert.ok(list.includes(long));
    assert.ok(list.includes(".wh.deleted"), "a whiteout becomes .wh.NAME");
    assert.ok(list.includes("opq/.wh..wh..opq"), "an opaque dir gets its marker");
    const out = path.join(dir, "out");
    fs.mkdirSync(out);
    const x = spawnSync("tar", ["-xf", tarFile, "-C", out], { encoding: "utf8" });
    assert.equal(x.status, 0, x.stderr);
    assert.equal(fs.readFileSync(path.join(out, long), "utf8"), "long name\n");
    assert.equal(fs.statSync(path.join(out, "run.sh")).mode & 0o777, 0o755);
    assert.equal(fs.readlinkSync(path.join(out, "link")), "run.sh");
    assert.equal(fs.statSync(path.join(out, "hard.sh")).ino, fs.statSync(path.join(out, "run.sh")).ino);
    assert.ok(fs.readFileSync(path.join(out, "big.bin")).equals(Buffer.alloc(3 << 20, 7)));
    // the same tree gives the same bytes (so the same digest)
    const again: Buffer[] = [];
    writeLayerTar(src, (c) => again.push(c), new Set(["opq"]));
    assert.ok(Buffer.concat(again).equals(Buffer.concat(chunks)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
