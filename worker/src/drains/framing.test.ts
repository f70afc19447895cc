import { test } from "node:test";
import assert from "node:assert/strict";
import { logplexBatch, octetFrame, parseOctetFrames, syslogMessage } from "./framing.ts";

const base = { t: "2026-12-03T10:00:00.123Z", src: "app" as const, type: "web", replica: "1", stream: "stdout", line: "listening on 5000" };

test("app lines: RFC 5424 with the app as APP-NAME, the replica as PROCID, info for stdout and err for stderr", () => {
  assert.equal(syslogMessage(base, "myapp", "localhost"), "<190>1 2026-12-03T10:00:00.123Z localhost myapp web.1 - - listening on 5000");
  assert.equal(syslogMessage({ ...base, stream: "stderr", line: "boom" }, "myapp", "localhost"), "<187>1 2026-12-03T10:00:00.123Z localhost myapp web.1 - - boom");
  assert.equal(syslogMessage({ ...base, stream: "file:/var/log/app/x.log", line: "in a file" }, "myapp", "h"), "<190>1 2026-12-03T10:00:00.123Z h myapp web.1 - - [/var/log/app/x.log] in a file");
});

test("platform lines: PROCID paas, what spoke as MSGID; header fields never hold spaces", () => {
  assert.equal(syslogMessage({ ...base, src: "platform", type: "deploy", replica: "", stream: "platform", line: "Deployed v3" }, "myapp", "localhost"), "<190>1 2026-12-03T10:00:00.123Z localhost myapp paas deploy - Deployed v3");
  assert.equal(syslogMessage({ ...base, src: "platform", stream: "platform", line: "crashed" }, "myapp", "localhost"), "<190>1 2026-12-03T10:00:00.123Z localhost myapp paas web.1 - crashed");
  assert.equal(syslogMessage({ ...base, type: "my type", replica: "" }, "myapp", ""), "<190>1 2026-12-03T10:00:00.123Z - myapp my_type - - listening on 5000");
  // A line without a parsable time gets the time it is sent.
  assert.match(syslogMessage({ ...base, t: "" }, "a", "h"), /^<190>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z h a web\.1 /);
});

test("octet counting counts bytes, not characters, and frames parse back", () => {
  assert.equal(octetFrame("héllo"), "6 héllo");
  const msgs = ["a", "two words", "ünïcödé ✓", "line with 12 digits 123456789012"];
  assert.deepEqual(parseOctetFrames(msgs.map(octetFrame).join("")), msgs);
  assert.throws(() => parseOctetFrames("5 abc"), /bad octet-counted frame/);
  assert.throws(() => parseOctetFrames("x abc"), /bad octet-counted frame/);
});

test("a logplex batch: octet-counted frames in the body, the count and a frame id in the headers", () => {
  const b = logplexBatch(["<190>1 a", "<187>1 bb"], "d.123", "frame-1");
  assert.equal(b.body, "8 <190>1 a9 <187>1 bb");
  assert.deepEqual(b.headers, { "content-type": "application/logplex-1", "logplex-msg-count": "2", "logplex-frame-id": "frame-1", "logplex-drain-token": "d.123", "user-agent": "paas-logplex/1" });
  assert.notEqual(logplexBatch(["x"], "d").headers["logplex-frame-id"], logplexBatch(["x"], "d").headers["logplex-frame-id"]);
});
