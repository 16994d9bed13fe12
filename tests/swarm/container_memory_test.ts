import assert from "node:assert/strict";
import { cgroupNumber, mib, vmHwmOf } from "./container_memory.ts";

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
