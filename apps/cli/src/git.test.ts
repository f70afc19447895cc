import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { CliError } from "./credentials.ts";
import { appFromRemoteUrl, remoteUrlFor, resolveApp, setCredentialHelper, setRemote } from "./git.ts";

test("appFromRemoteUrl reads the app from our git URLs only", () => {
  assert.equal(appFromRemoteUrl("http://localhost:3000/git/hello.git"), "hello");
  assert.equal(appFromRemoteUrl("http://10.0.0.5:3000/git/my-app-2"), "my-app-2");
  assert.equal(appFromRemoteUrl("https://paas.example.com/git/web.git/"), "web");
  assert.equal(appFromRemoteUrl("http://user:tok@host:3000/git/hello.git"), "hello");
  assert.equal(appFromRemoteUrl("git@github.com:me/hello.git"), null);
  assert.equal(appFromRemoteUrl("http://localhost:3000/git/Bad_Name.git"), null);
  assert.equal(appFromRemoteUrl("http://localhost:3000/other/hello.git"), null);
});

test("remoteUrlFor builds the URL without credentials", () => {
  assert.equal(remoteUrlFor("http://localhost:3000/", "hello"), "http://localhost:3000/git/hello.git");
});

test("resolveApp: -a wins, else the named git remote of the directory", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "paas-cli-git-"));
  assert.throws(() => resolveApp(undefined, "paas", dir), (e: Error) => e instanceof CliError && /pass -a APP/.test(e.message));
  execFileSync("git", ["init", "-q", dir]);
  assert.throws(() => resolveApp(undefined, "paas", dir), /no app given/);
  assert.equal(setRemote("paas", "http://localhost:3000/git/hello.git", dir), "added");
  assert.equal(resolveApp(undefined, "paas", dir), "hello");
  assert.equal(resolveApp("explicit", "paas", dir), "explicit");
  assert.equal(setRemote("paas", "http://localhost:3000/git/world.git", dir), "updated");
  assert.equal(resolveApp(undefined, "paas", dir), "world");
  execFileSync("git", ["-C", dir, "remote", "add", "origin", "git@github.com:me/x.git"]);
  assert.throws(() => resolveApp(undefined, "origin", dir), /not a PaaS app URL/);
});

test("setCredentialHelper sets exactly one helper for the host", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "paas-cli-cred-"));
  execFileSync("git", ["init", "-q", dir]);
  setCredentialHelper("http://localhost:3000", "!paas git:credential", dir);
  setCredentialHelper("http://localhost:3000", "!paas git:credential", dir);
  const out = execFileSync("git", ["-C", dir, "config", "--local", "--get-all", "credential.http://localhost:3000.helper"], { encoding: "utf8" });
  assert.equal(out, "!paas git:credential\n");
});
