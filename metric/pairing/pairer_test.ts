import assert from "node:assert/strict";
import { type Half, Pairer, pairingFault, type Side } from "./pairer.ts";

function half(id: string, side: Side, value: number, arrivedAt = 0, token = `${side}:${id}`) {
  return { id, side, value, arrivedAt, token } satisfies Half<string>;
}

function pairer(ttlMs = 1000, seenCapacity = 100): Pairer<string> {
  return new Pairer<string>({ ttlMs, seenCapacity });
}

Deno.test("Pairer.offer() pairs a truth that arrives before its prediction", () => {
  const p = pairer();
  assert.deepEqual(p.offer(half("a", "y_true", 151)), { kind: "pending" });
  assert.equal(p.pendingCount, 1);
  assert.equal(p.hasRecorded("a"), false);
  assert.deepEqual(p.offer(half("a", "y_pred", 160.5)), {
    kind: "paired",
    truth: half("a", "y_true", 151),
    prediction: half("a", "y_pred", 160.5),
  });
  assert.equal(p.pendingCount, 0);
  assert.equal(p.hasRecorded("a"), true);
});

Deno.test("Pairer.offer() pairs a prediction that arrives before its truth", () => {
  const p = pairer();
  assert.deepEqual(p.offer(half("a", "y_pred", 160.5)), { kind: "pending" });
  assert.deepEqual(p.offer(half("a", "y_true", 151)), {
    kind: "paired",
    truth: half("a", "y_true", 151),
    prediction: half("a", "y_pred", 160.5),
  });
  assert.equal(p.pendingCount, 0);
});

Deno.test("Pairer.offer() keeps samples apart by id", () => {
  const p = pairer();
  p.offer(half("a", "y_true", 1));
  p.offer(half("b", "y_true", 2));
  p.offer(half("c", "y_pred", 30));
  assert.equal(p.pendingCount, 3);
  const paired = p.offer(half("b", "y_pred", 20));
  assert.equal(paired.kind, "paired");
  assert.deepEqual(paired, {
    kind: "paired",
    truth: half("b", "y_true", 2),
    prediction: half("b", "y_pred", 20),
  });
  assert.equal(p.pendingCount, 2);
  assert.equal(p.hasRecorded("a"), false);
  assert.equal(p.hasRecorded("b"), true);
});

Deno.test("Pairer.offer() recognises a duplicate of a recorded id", async (t) => {
  const p = pairer();
  p.offer(half("a", "y_true", 151));
  p.offer(half("a", "y_pred", 160));
  for (const side of ["y_true", "y_pred"] as const) {
    await t.step(`a redelivered ${side}`, () => {
      assert.deepEqual(p.offer(half("a", side, 999)), { kind: "recorded" });
      assert.equal(p.pendingCount, 0);
    });
  }
  await t.step("an id marked recorded from the CSV at start", () => {
    p.markRecorded("restored");
    assert.deepEqual(p.offer(half("restored", "y_pred", 1)), { kind: "recorded" });
  });
});

Deno.test("Pairer.offer() replaces a pending duplicate and hands the old one back", () => {
  const p = pairer();
  p.offer(half("a", "y_true", 151, 0, "first"));
  assert.deepEqual(p.offer(half("a", "y_true", 151, 5, "second")), {
    kind: "replaced",
    replaced: half("a", "y_true", 151, 0, "first"),
  });
  assert.equal(p.pendingCount, 1);
  // The pair is made with the newer copy.
  assert.deepEqual(p.offer(half("a", "y_pred", 160, 6)), {
    kind: "paired",
    truth: half("a", "y_true", 151, 5, "second"),
    prediction: half("a", "y_pred", 160, 6),
  });
});

Deno.test("Pairer.expire() hands back halves only after they waited longer than ttlMs", async (t) => {
  const p = pairer(1000);
  p.offer(half("a", "y_true", 1, 0));
  p.offer(half("b", "y_pred", 2, 500));
  p.offer(half("c", "y_true", 3, 900));
  p.offer(half("c", "y_pred", 4, 900)); // paired: never expires

  await t.step("nothing at exactly ttlMs", () => {
    assert.deepEqual(p.expire(1000), []);
    assert.equal(p.pendingCount, 2);
  });
  await t.step("the oldest just after ttlMs", () => {
    assert.deepEqual(p.expire(1001), [half("a", "y_true", 1, 0)]);
    assert.equal(p.pendingCount, 1);
  });
  await t.step("an expired half is gone: its other half now waits anew", () => {
    assert.deepEqual(p.offer(half("a", "y_pred", 5, 1100)), { kind: "pending" });
  });
  await t.step("the rest in turn", () => {
    assert.deepEqual(p.expire(1501), [half("b", "y_pred", 2, 500)]);
    assert.deepEqual(p.expire(2101), [half("a", "y_pred", 5, 1100)]);
    assert.equal(p.pendingCount, 0);
    assert.deepEqual(p.expire(1e9), []);
  });
  await t.step("expired ids are not recorded", () => {
    assert.equal(p.hasRecorded("a"), false);
    assert.equal(p.hasRecorded("c"), true);
  });
});

Deno.test("Pairer.expire() counts the wait of a replaced half from its newer copy", () => {
  const p = pairer(1000);
  p.offer(half("a", "y_true", 1, 0));
  p.offer(half("a", "y_true", 1, 800)); // replaced by a newer copy
  assert.deepEqual(p.expire(1500), []);
  assert.deepEqual(p.expire(1801), [half("a", "y_true", 1, 800)]);
});

Deno.test("Pairer forgets the oldest recorded id once seenCapacity is reached", async (t) => {
  const p = pairer(1000, 3);
  for (const id of ["a", "b", "c"]) {
    p.offer(half(id, "y_true", 1));
    p.offer(half(id, "y_pred", 2));
  }
  await t.step("at capacity every id is remembered", () => {
    assert.deepEqual(["a", "b", "c"].map((id) => p.hasRecorded(id)), [true, true, true]);
  });
  await t.step("one more evicts the oldest", () => {
    p.markRecorded("d");
    assert.deepEqual(["a", "b", "c", "d"].map((id) => p.hasRecorded(id)), [
      false,
      true,
      true,
      true,
    ]);
    assert.deepEqual(p.offer(half("a", "y_true", 1)), { kind: "pending" });
  });
  await t.step("marking a remembered id again does not take a slot", () => {
    p.markRecorded("d");
    p.markRecorded("b");
    assert.deepEqual(["b", "c", "d"].map((id) => p.hasRecorded(id)), [true, true, true]);
    p.markRecorded("e");
    assert.deepEqual(["b", "c", "d", "e"].map((id) => p.hasRecorded(id)), [
      false,
      true,
      true,
      true,
    ]);
  });
  await t.step("capacity 1 remembers only the last id", () => {
    const one = pairer(1000, 1);
    one.markRecorded("x");
    one.markRecorded("y");
    assert.equal(one.hasRecorded("x"), false);
    assert.equal(one.hasRecorded("y"), true);
  });
});

Deno.test("Pairer.clearPending() forgets waiting halves but not recorded ids", () => {
  const p = pairer();
  p.offer(half("a", "y_true", 1));
  p.offer(half("b", "y_pred", 2));
  p.offer(half("b", "y_pred", 2)); // replaced: still one half
  p.offer(half("c", "y_true", 3));
  p.offer(half("c", "y_pred", 4));
  assert.equal(p.pendingCount, 2);
  assert.equal(p.clearPending(), 2);
  assert.equal(p.pendingCount, 0);
  assert.equal(p.clearPending(), 0);
  assert.deepEqual(p.expire(1e9), []);
  assert.equal(p.hasRecorded("c"), true);
  assert.deepEqual(p.offer(half("a", "y_pred", 5)), { kind: "pending" });
});

Deno.test("new Pairer() refuses settings it cannot work with", async (t) => {
  const cases: [string, number, number, string][] = [
    ["ttlMs 0", 0, 10, "Cannot create Pairer as 'ttlMs' must be positive: current value is 0"],
    ["ttlMs -1", -1, 10, "Cannot create Pairer as 'ttlMs' must be positive: current value is -1"],
    [
      "ttlMs NaN",
      Number.NaN,
      10,
      "Cannot create Pairer as 'ttlMs' must be positive: current value is NaN",
    ],
    [
      "seenCapacity 0",
      1000,
      0,
      "Cannot create Pairer as 'seenCapacity' must be a positive integer: current value is 0",
    ],
    [
      "seenCapacity 2.5",
      1000,
      2.5,
      "Cannot create Pairer as 'seenCapacity' must be a positive integer: current value is 2.5",
    ],
    [
      "seenCapacity Infinity",
      1000,
      Number.POSITIVE_INFINITY,
      "Cannot create Pairer as 'seenCapacity' must be a positive integer: current value is Infinity",
    ],
  ];
  for (const [name, ttlMs, seenCapacity, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => new Pairer({ ttlMs, seenCapacity }), { name: "RangeError", message });
    });
  }
  await t.step("a fractional ttlMs is fine", () => {
    assert.equal(new Pairer({ ttlMs: 0.5, seenCapacity: 1 }).pendingCount, 0);
  });
});

Deno.test("Pairer.offer() refuses a pair whose absolute error is not finite and lets both halves go", () => {
  const p = pairer();
  p.offer(half("a", "y_true", 1e308));
  const offer = p.offer(half("a", "y_pred", -1e308));
  assert.equal(offer.kind, "invalid");
  assert.ok(offer.kind === "invalid");
  assert.equal(
    offer.reason,
    "Cannot pair sample 'a' as its absolute error is not a finite number: -1e+308 and 1e+308 give Infinity",
  );
  assert.deepEqual(offer.waiting.map((h) => h.token), ["y_true:a"], "the truth is handed back");
  assert.equal(p.hasRecorded("a"), false, "nothing recorded");
  assert.equal(p.pendingCount, 0, "nothing waits to expire as unpaired");
});

Deno.test("Pairer.offer() refuses a value that is not finite", () => {
  const p = pairer();
  for (const value of [NaN, Infinity, -Infinity]) {
    const offer = p.offer(half("a", "y_pred", value));
    assert.equal(offer.kind, "invalid", String(value));
    assert.deepEqual(offer.kind === "invalid" && offer.waiting, []);
  }
  assert.equal(p.pendingCount, 0);
});

Deno.test("pairingFault() names what cannot be recorded", async (t) => {
  const cases: [number, number | undefined, string | undefined][] = [
    [151, 160.5, undefined],
    [151, undefined, undefined],
    [-1e12, 1e12, undefined],
    [
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      "its absolute error is not a finite number: 1.7976931348623157e+308 and -1.7976931348623157e+308 give Infinity",
    ],
    [NaN, 1, "its value is not a finite number: current value is NaN"],
    [1, Infinity, "its absolute error is not a finite number: 1 and Infinity give Infinity"],
  ];
  for (const [value, other, fault] of cases) {
    await t.step(`${value} and ${other}`, () => {
      assert.equal(pairingFault(value, other), fault);
    });
  }
});

Deno.test("Pairer.recordedIds(last) gives the newest ids, oldest first, before and after the ring wraps", () => {
  const pairer = new Pairer<string>({ ttlMs: 1000, seenCapacity: 5 });
  for (const id of ["a", "b", "c"]) pairer.markRecorded(id);
  assert.deepEqual(pairer.recordedIds(), ["a", "b", "c"]);
  assert.deepEqual(pairer.recordedIds(2), ["b", "c"]);
  assert.deepEqual(pairer.recordedIds(10), ["a", "b", "c"]);
  for (const id of ["d", "e", "f", "g"]) pairer.markRecorded(id);
  assert.deepEqual(pairer.recordedIds(), ["c", "d", "e", "f", "g"]);
  assert.deepEqual(pairer.recordedIds(3), ["e", "f", "g"]);
  assert.deepEqual(pairer.recordedIds(0), []);
});
