// The build log's format: what the worker writes is what every reader reads back.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  colorize,
  endEntry,
  entryToEvent,
  FollowError,
  followNdjson,
  lineEntry,
  lineKind,
  LineSplitter,
  renderEvent,
  toNdjson,
  toSse,
  type LogEvent,
} from "./build-log.mjs";

test("written entries read back as events; an unknown status is a failure", () => {
  assert.deepEqual(entryToEvent("1-0", lineEntry("-----> Node.js app detected")), { id: "1-0", line: "-----> Node.js app detected" });
  assert.deepEqual(entryToEvent("2-0", endEntry("succeeded", { url: "http://x/" })), { id: "2-0", status: "succeeded", url: "http://x/" });
  assert.deepEqual(entryToEvent("3-0", endEntry("failed", { error: "boom" })), { id: "3-0", status: "failed", error: "boom" });
  const odd = entryToEvent("4-0", ["status", "weird"]);
  assert.ok(odd && "status" in odd && odd.status === "failed" && /unknown build status "weird"/.test(odd.error ?? ""));
  assert.equal(entryToEvent("5-0", ["other", "x"]), null);
});

test("NDJSON and SSE carry the same event, SSE with the id to resume from", () => {
  const ev: LogEvent = { id: "7-1", line: "       added 3 packages" };
  assert.equal(toNdjson(ev), '{"id":"7-1","line":"       added 3 packages"}\n');
  assert.equal(toSse(ev), 'id: 7-1\ndata: {"id":"7-1","line":"       added 3 packages"}\n\n');
  assert.equal(toSse({ notice: "n" }), 'data: {"notice":"n"}\n\n');
});

test("LineSplitter joins lines split across chunks, multi-byte characters too", () => {
  const s = new LineSplitter();
  const bytes = new TextEncoder().encode('{"line":"é"}\n{"li');
  assert.deepEqual(s.push(bytes.subarray(0, 10)), []); // cuts "é" in half
  assert.deepEqual(s.push(bytes.subarray(10)), ['{"line":"é"}']);
  assert.deepEqual(s.push(new TextEncoder().encode('ne":"x"}\n')), ['{"line":"x"}']);
  assert.deepEqual(s.push(new TextEncoder().encode("tail")), []);
  assert.deepEqual(s.end(), ["tail"]);
});

test("renderEvent prints lines as they are, ends on the status, and never says the URL or the error twice", () => {
  assert.deepEqual(renderEvent({ line: "       npm install" }), { print: ["       npm install"] });
  assert.deepEqual(renderEvent({ status: "succeeded", url: "http://hello.localhost:8080/" }), {
    print: ["-----> Deployed to http://hello.localhost:8080/"],
    done: { ok: true },
  });
  assert.deepEqual(renderEvent({ status: "failed", error: "npm run build exited 1" }), { print: [" !     Build failed: npm run build exited 1"], done: { ok: false } });
  const printed = ["-----> Deployed v1 to http://hello.localhost:8080/", " !     npm run build exited 1"];
  assert.deepEqual(renderEvent({ status: "succeeded", url: "http://hello.localhost:8080/" }, printed).print, []);
  assert.deepEqual(renderEvent({ status: "failed", error: "npm run build exited 1" }, printed).print, []);
});

test("line kinds: the terminal's colours and the dashboard's styles come from one rule", () => {
  assert.equal(lineKind("-----> Deployed v2 to http://a/"), "deployed");
  assert.equal(lineKind("-----> Installing dependencies"), "step");
  assert.equal(lineKind(" !     npm exited 1"), "error");
  assert.equal(lineKind("       added 3 packages"), "plain");
  assert.equal(colorize("-----> Installing"), "\x1b[1m-----> Installing\x1b[0m");
  assert.equal(colorize("       plain"), "       plain");
});

const chunks = (...lines: LogEvent[]) => ({
  async *[Symbol.asyncIterator]() {
    for (const l of lines) yield new TextEncoder().encode(toNdjson(l));
  },
});

test("the follower resumes after the last event when the connection drops, and ends on the status", async () => {
  const asked: string[] = [];
  const seen: LogEvent[] = [];
  const end = await followNdjson({
    pause: async () => {},
    open: async (after) => {
      asked.push(after);
      // The first answer drops after one line; the second goes on from there.
      const body = after === "0" ? chunks({ id: "1-0", line: "one" }) : chunks({ id: "2-0", line: "two" }, { id: "3-0", status: "succeeded" });
      return { status: 200, body, error: async () => "" };
    },
    onEvent: (ev) => seen.push(ev),
  });
  assert.deepEqual(asked, ["0", "1-0"]);
  assert.deepEqual(seen.map((e) => ("line" in e ? e.line : "status" in e ? e.status : "")), ["one", "two", "succeeded"]);
  assert.equal(end.status, "succeeded");
});

test("the follower gives up with a FollowError: a refusal at once, a lost log after its retries", async () => {
  await assert.rejects(
    followNdjson({ pause: async () => {}, open: async () => ({ status: 404, body: chunks(), error: async () => "build not found" }), onEvent: () => {} }),
    (e: Error) => e instanceof FollowError && /build not found/.test(e.message),
  );
  let opened = 0;
  await assert.rejects(
    followNdjson({ retries: 2, pause: async () => {}, open: async () => (opened++, { status: 200, body: chunks(), error: async () => "" }), onEvent: () => {} }),
    (e: Error) => e instanceof FollowError && /lost the build log/.test(e.message),
  );
  assert.equal(opened, 3);
});
