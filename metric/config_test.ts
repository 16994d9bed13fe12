import assert from "node:assert/strict";
import { loadConfig } from "../stack/config.ts";
import { metricSchema } from "./config.ts";

function configWith(env: Record<string, string>) {
  return loadConfig(metricSchema, (name) => env[name]);
}

Deno.test("metric's config keeps the PNG worker a minute after the last request by default", () => {
  assert.equal(configWith({}).pngIdleMs, 60_000);
  assert.equal(configWith({ PNG_IDLE_MS: "5000" }).pngIdleMs, 5000);
});

Deno.test("metric's config refuses a PNG_IDLE_MS under a second, naming it and its value", () => {
  assert.throws(() => configWith({ PNG_IDLE_MS: "10" }), /PNG_IDLE_MS.*current value is .*10/s);
});
