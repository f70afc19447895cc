import { test } from "node:test";
import assert from "node:assert/strict";
import { BackupError, captureHint, failureLine, restoreHint } from "./report.ts";
import { redactRepoSecrets } from "./repo.ts";

test("redactRepoSecrets hides the store's credentials and a URL's, and keeps the rest", () => {
  const env = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG", AWS_SESSION_TOKEN: "abc" };
  const said = "Fatal: unable to open repository at rest:https://bob:hunter2@backup.example:8000/bk: key wJalrXUtnFEMI/K7MDENG for AKIAEXAMPLE, abc ok";
  assert.equal(redactRepoSecrets(said, env), "Fatal: unable to open repository at rest:https://***@backup.example:8000/bk: key *** for ***, abc ok");
  assert.equal(redactRepoSecrets("s3:https://minio.example:9000/bucket/app: no such bucket", {}), "s3:https://minio.example:9000/bucket/app: no such bucket");
});

test("captureHint names the cause people meet, else says the app ran on and to try again", () => {
  assert.match(captureHint("restic backup failed: Fatal: unable to create lock in backend: not a directory", "web"), /locked or cannot be written.*restic unlock.*Then run `paas backups:capture -a web` again\.$/);
  assert.match(captureHint("restic backup failed: write /repo/data/x: no space left on device", "web"), /^The backup store is full.*--keep N/);
  assert.match(captureHint("restic backup failed: Fatal: wrong password or no key found", "web"), /does not open with the app's key/);
  assert.equal(captureHint("the agent is unreachable", "web"), "The app kept running and its volume is unchanged: run `paas backups:capture -a web` again; if it fails again, the platform's operator reads the worker's log.");
});

test("restoreHint says what became of the volume", () => {
  const o = { app: "web", backupId: "b1", volume: "data" };
  assert.match(restoreHint("x", { ...o, state: "emptied" }), /^Volume data was emptied for the restore and holds only part of backup b1: run `paas backups:restore b1 -a web` again, or restore into a new volume with --to NEW_VOLUME/);
  assert.match(restoreHint("Fatal: could not find snapshot", { ...o, state: "unchanged" }), /^Volume data is unchanged\. Run the restore again \(paas backups:restore b1 -a web\)/);
  assert.match(restoreHint("x", { ...o, volume: "copy", state: "removed" }), /^The new volume copy was not kept\. Run the restore again \(paas backups:restore b1 -a web --to copy\)/);
});

test("failureLine: the error and its hint on one line, named when the error does not name the backup", () => {
  const err = new BackupError("backup b1 of web's volume data FAILED: restic backup failed: boom", "Run it again.");
  assert.equal(failureLine(err, { op: "capture" }), "Backup b1 of web's volume data FAILED: restic backup failed: boom Run it again.");
  assert.equal(failureLine(new Error("lost the lease"), { op: "restore", backupId: "b2" }), "Restore of backup b2 FAILED: internal error: lost the lease");
  assert.equal(failureLine(new BackupError("restore of backup b3 FAILED: at https://u:pw@h/x"), { op: "restore", backupId: "b3" }), "Restore of backup b3 FAILED: at https://***@h/x");
});
