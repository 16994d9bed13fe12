import assert from "node:assert/strict";
import type { SoakReading } from "./soak_readings.ts";
import { soakVerdict, thirds } from "./soak_verdict.ts";

const MIB = 1024 * 1024;

/** Nine readings of a steady pipeline: 1,000 rows each, 100 bytes a row, metric at 60 MiB. */
function steady(change: (i: number) => Partial<SoakReading> = () => ({})): SoakReading[] {
  return Array.from({ length: 9 }, (_, i) => ({
    atS: (i + 1) * 10,
    rows: (i + 1) * 1000,
    intervalRows: 1000,
    rowsPerSecond: 100,
    p50Ms: 1,
    p99Ms: 4,
    maxMs: 9,
    memory: { metric: { rssBytes: 60 * MIB, peakRssBytes: 61 * MIB } },
    diskBytes: 2000 + (i + 1) * 1000 * 100,
    queues: { features: 10, y_pred: 0 },
    ...change(i),
  }));
}

Deno.test("thirds() gives the remainder to the last third and needs three readings", () => {
  const readings = steady();
  assert.deepEqual(thirds(readings.slice(0, 4))?.map((part) => part.length), [1, 1, 2]);
  assert.deepEqual(thirds(readings)?.map((part) => part.length), [3, 3, 3]);
  assert.equal(thirds(readings.slice(0, 2)), undefined);
});

Deno.test("soakVerdict() calls a steady soak flat, whatever its cold start did", () => {
  const verdict = soakVerdict(
    steady((i) => i < 3 ? { p99Ms: 40, queues: { features: 9000 } } : {}),
  );
  assert.equal(verdict.text, "flat");
  assert.ok(verdict.flat);
  assert.deepEqual(verdict.checks.map((check) => check.series), [
    "metric RSS",
    "p99",
    "disk per row",
    "features queue",
    "y_pred queue",
  ]);
});

Deno.test("soakVerdict() names memory that grew by more than 10 MiB", () => {
  const verdict = soakVerdict(
    steady((i) => ({ memory: { metric: { rssBytes: (60 + 5 * i) * MIB, peakRssBytes: 0 } } })),
  );
  assert.ok(!verdict.flat);
  assert.equal(verdict.text, "grew: metric RSS 80.0 → 95.0 MiB");
});

Deno.test("soakVerdict() lets p99 wander within 1.5 times plus 1 ms", () => {
  assert.ok(soakVerdict(steady((i) => i >= 6 ? { p99Ms: 7 } : {})).flat);
  assert.match(soakVerdict(steady((i) => i >= 6 ? { p99Ms: 7.1 } : {})).text, /^grew: p99 4\.0/);
});

Deno.test("soakVerdict() wants disk to grow by the same bytes per row", () => {
  const faster = steady((i) => ({ diskBytes: 2000 + (i + 1) * 100_000 + (i >= 6 ? 50_000 : 0) }));
  assert.match(soakVerdict(faster).text, /^grew: disk per row 100\.0 → 116\.7 B$/);
});

Deno.test("soakVerdict() names a queue whose backlog builds", () => {
  const backlog = steady((i) => ({ queues: { features: i * 1000, y_pred: 0 } }));
  assert.equal(soakVerdict(backlog).text, "grew: features queue 5,000 → 8,000 messages");
});

Deno.test("soakVerdict() gives no verdict on fewer than three readings", () => {
  const verdict = soakVerdict(steady().slice(0, 2));
  assert.ok(!verdict.flat);
  assert.equal(verdict.text, "no verdict: 2 reading(s), at least 3 needed");
});
