import assert from "node:assert/strict";
import test from "node:test";
import { renderFigures } from "./exporter.ts";
import { Figures } from "./figures.ts";

test("the figures in the text format: status classes, cumulative buckets in seconds", () => {
  const f = new Figures();
  f.record("shop", 200, 10, 100, 3);
  f.record("shop", 200, 10, 100, 40);
  f.record("shop", 503, 10, 5, 2000);
  const text = renderFigures(f.entries());
  assert.match(text, /^paas_router_requests_total\{app="shop",code="2xx"\} 2$/m);
  assert.match(text, /^paas_router_requests_total\{app="shop",code="5xx"\} 1$/m);
  assert.match(text, /^paas_router_request_duration_seconds_bucket\{app="shop",le="0.005"\} 1$/m);
  assert.match(text, /^paas_router_request_duration_seconds_bucket\{app="shop",le="0.05"\} 2$/m);
  assert.match(text, /^paas_router_request_duration_seconds_bucket\{app="shop",le="2.5"\} 3$/m);
  assert.match(text, /^paas_router_request_duration_seconds_bucket\{app="shop",le="\+Inf"\} 3$/m);
  assert.match(text, /^paas_router_request_duration_seconds_sum\{app="shop"\} 2.043$/m);
  assert.match(text, /^# TYPE paas_router_request_duration_seconds histogram$/m);
});
