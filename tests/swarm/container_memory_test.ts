import assert from "node:assert/strict";
import { cgroupNumber, memoryStatOf, mib, vmHwmOf } from "./container_memory.ts";

Deno.test("vmHwmOf reads the peak resident set of /proc/<pid>/status, in bytes", () => {
  const status = "Name:\tdeno\nVmPeak:\t 3000000 kB\nVmHWM:\t   81920 kB\nVmRSS:\t   61440 kB\n";
  assert.equal(vmHwmOf(status), 80 * 1024 * 1024);
  assert.equal(vmHwmOf("Name:\tdeno\n"), undefined);
});

Deno.test("cgroupNumber reads a cgroup memory file; v2's 'max' and junk are unknown", () => {
  assert.equal(cgroupNumber("134217728\n"), 134217728);
  assert.equal(cgroupNumber("max\n"), undefined);
  assert.equal(cgroupNumber(""), undefined);
  assert.equal(mib(undefined), "–");
  assert.equal(mib(134217728), "128 MiB");
});

Deno.test("memoryStatOf reads one key of memory.stat, not a key it only ends with", () => {
  const stat = "cache 1000\nrss 2000\ntotal_cache 3000\ntotal_rss 4000\n";
  assert.equal(memoryStatOf(stat, "total_rss"), 4000);
  assert.equal(memoryStatOf(stat, "rss"), 2000);
  assert.equal(memoryStatOf("anon 5\nfile 6\n", "anon"), 5);
  assert.equal(memoryStatOf(stat, "anon"), undefined);
});
