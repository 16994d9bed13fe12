import assert from "node:assert/strict";
import { CSV_HEADER, metricLogPath } from "./metric_log/format.ts";
import { DEFAULT_LAST, MAX_LAST, parseLast, RECORDS_PATH, recordsRoute } from "./records_route.ts";

const quiet = { debug() {}, error() {} };

Deno.test("parseLast() takes an integer from 1 to 50000, 5000 when absent", async (t) => {
  await t.step("accepted", () => {
    assert.deepEqual(parseLast([]), { ok: true, value: DEFAULT_LAST });
    for (
      const [given, value] of [["1", 1], ["10", 10], ["050", 50], ["50000", MAX_LAST]] as const
    ) {
      assert.deepEqual(parseLast([given]), { ok: true, value });
    }
  });
  await t.step("refused, naming the parameter and the value", () => {
    for (const given of ["abc", "", "0", "-5", "50001", "1.5", "1e3", " 10", "0x10", "9999999"]) {
      assert.deepEqual(parseLast([given]), {
        ok: false,
        error: `last must be an integer from 1 to 50000: current value is '${given}'`,
      });
    }
    assert.deepEqual(parseLast(["10", "20"]), {
      ok: false,
      error: "last must be an integer from 1 to 50000: current value is '10', '20'",
    });
  });
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "records_route_test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function get(route: ReturnType<typeof recordsRoute>, path: string, method = "GET") {
  const url = new URL(path, "http://metric:8003");
  return route(new Request(url, { method }), url);
}

Deno.test("recordsRoute() answers GET /records with the header and the last rows", async (t) => {
  await withDir(async (dir) => {
    const csvPath = metricLogPath(dir);
    const route = recordsRoute({ csvPath, log: quiet });
    await t.step("other paths fall through", () => {
      assert.equal(get(route, "/recordsx"), undefined);
      assert.equal(get(route, "/api/stats"), undefined);
    });
    await t.step("a missing log: the header line alone, 0 rows", async () => {
      const response = await get(route, RECORDS_PATH)!;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/csv; charset=utf-8");
      assert.equal(response.headers.get("x-ml-rows"), "0");
      assert.equal(await response.text(), `${CSV_HEADER}\n`);
    });
    const rows = Array.from({ length: 30 }, (_, i) => `row-${i}`);
    await Deno.writeTextFile(csvPath, [CSV_HEADER, ...rows].map((l) => `${l}\n`).join("") + "to");
    await t.step("the last N complete rows, oldest first", async () => {
      const response = await get(route, `${RECORDS_PATH}?last=3`)!;
      assert.equal(response.headers.get("x-ml-rows"), "3");
      assert.equal(await response.text(), `${CSV_HEADER}\nrow-27\nrow-28\nrow-29\n`);
    });
    await t.step("every row when the log holds fewer than asked (default 5000)", async () => {
      const response = await get(route, RECORDS_PATH)!;
      assert.equal(response.headers.get("x-ml-rows"), "30");
      assert.equal((await response.text()).split("\n").length, 32);
    });
    await t.step("HEAD: the headers without the body", async () => {
      const response = await get(route, `${RECORDS_PATH}?last=2`, "HEAD")!;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-ml-rows"), "2");
      assert.equal(response.body, null);
    });
    await t.step("400 for a bad last, naming it", async () => {
      const response = await get(route, `${RECORDS_PATH}?last=abc`)!;
      assert.equal(response.status, 400);
      assert.equal(
        await response.text(),
        "last must be an integer from 1 to 50000: current value is 'abc'\n",
      );
    });
    await t.step("405 for another method", async () => {
      const response = await get(route, RECORDS_PATH, "POST")!;
      assert.equal(response.status, 405);
      assert.equal(response.headers.get("allow"), "GET, HEAD");
    });
    await t.step("no more than maxBytes of rows", async () => {
      const capped = recordsRoute({ csvPath, log: quiet, maxBytes: 14 });
      const response = await get(capped, `${RECORDS_PATH}?last=10`)!;
      assert.equal(response.headers.get("x-ml-rows"), "2");
      assert.equal(await response.text(), `${CSV_HEADER}\nrow-28\nrow-29\n`);
    });
    await t.step("concurrent requests are each answered in full", async () => {
      const responses = await Promise.all(
        [1, 2, 3, 4].map((n) => get(route, `${RECORDS_PATH}?last=${n}`)!),
      );
      assert.deepEqual(
        await Promise.all(responses.map((r) => r.headers.get("x-ml-rows"))),
        ["1", "2", "3", "4"],
      );
    });
  });
});

Deno.test("recordsRoute() answers 500 and logs when the log cannot be read", async () => {
  await withDir(async (dir) => {
    // A directory where the file should be: opening it for reading works, reading does not.
    const csvPath = metricLogPath(dir);
    await Deno.mkdir(csvPath);
    const errors: string[] = [];
    const route = recordsRoute({ csvPath, log: { debug() {}, error: (m) => void errors.push(m) } });
    const response = await get(route, RECORDS_PATH)!;
    assert.equal(response.status, 500);
    assert.match(await response.text(), /^cannot read the records: /);
    assert.equal(errors.length, 1);
  });
});
