import assert from "node:assert/strict";
import { summarizeTlsCost, TLS_SIZES, tlsCostReport, type TlsRound } from "./tls_cost.ts";

const ROUNDS: TlsRound[] = [
  {
    clear: { ceilingPerSecond: 10_000, p50Ms: 2, p99Ms: 8 },
    tls: { ceilingPerSecond: 8_000, p50Ms: 3, p99Ms: 10 },
  },
  {
    clear: { ceilingPerSecond: 12_000, p50Ms: 2, p99Ms: 10 },
    tls: { ceilingPerSecond: 9_000, p50Ms: 2, p99Ms: 9 },
  },
  {
    clear: { ceilingPerSecond: 11_000, p50Ms: 4, p99Ms: 20 },
    tls: { ceilingPerSecond: 11_000, p50Ms: 4, p99Ms: 30 },
  },
];

Deno.test("summarizeTlsCost() gives each transport's medians and the per-round ratio TLS ÷ clear", () => {
  const figures = summarizeTlsCost(TLS_SIZES, ROUNDS);
  assert.equal(figures.byTransport.clear.ceiling.median, 11_000);
  assert.equal(figures.byTransport.tls.ceiling.median, 9_000);
  assert.deepEqual(figures.tlsOverClear.ceiling.runs, [0.8, 0.75, 1]);
  assert.equal(figures.tlsOverClear.ceiling.median, 0.8);
  assert.deepEqual(figures.tlsOverClear.p99.runs, [1.25, 0.9, 1.5]);
  assert.equal(figures.tlsOverClear.p99.median, 1.25);
});

Deno.test("tlsCostReport() tables both transports and the ratios, with the machine and sizes", () => {
  const report = tlsCostReport(summarizeTlsCost(TLS_SIZES, ROUNDS), "a 2-core box");
  assert.match(report, /a 2-core box\. 3 rounds/);
  assert.match(report, /\| clear \(5672\) +\| +11,000 \(10,000–12,000\)/);
  assert.match(report, /\| TLS ÷ clear, per round +\| +0\.80 \(0\.75–1\.00\)/);
});
