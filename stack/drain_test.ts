import assert from "node:assert/strict";
import { drainWithin } from "./drain.ts";

/** A clock the test moves: sleeps resolve only as it passes their end, or on abort. */
class FakeClock {
  #now = 0;
  #timers = new Set<{ endsAt: number; resolve: () => void }>();
  /** Every wait asked for, in ms. */
  readonly asked: number[] = [];

  now = () => this.#now;

  sleep = (ms: number, signal: AbortSignal): Promise<void> => {
    this.asked.push(ms);
    return new Promise((resolve) => {
      if (ms <= 0) return resolve(); // a timer of 0 fires on the next turn, as it does here
      const timer = { endsAt: this.#now + ms, resolve };
      this.#timers.add(timer);
      signal.addEventListener("abort", () => {
        this.#timers.delete(timer);
        resolve();
      }, { once: true });
    });
  };

  get pending(): number {
    return this.#timers.size;
  }

  async advance(ms: number): Promise<void> {
    this.#now += ms;
    for (const timer of [...this.#timers]) {
      if (timer.endsAt > this.#now) continue;
      this.#timers.delete(timer);
      timer.resolve();
    }
    await settled();
  }
}

/** Lets every callback already due run (no I/O here: a macrotask is enough). */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

const never = () => new Promise<void>(() => {});

function setUp(options: { stopConsuming: () => Promise<void>; inFlight: Promise<unknown>[] }) {
  const clock = new FakeClock();
  const lines: string[] = [];
  const say = (level: string) => (message: string, properties: Record<string, unknown>) =>
    void lines.push(`${level} ${message} ${JSON.stringify(properties)}`);
  let done = false;
  const drained = drainWithin(1_000, {
    stopConsuming: options.stopConsuming,
    inFlight: new Set(options.inFlight),
    log: { info: say("info"), warn: say("warn") },
    sleep: clock.sleep,
    now: clock.now,
  }).then(() => void (done = true));
  return { clock, lines, drained, isDone: () => done };
}

Deno.test("drainWithin: a cancel that hangs and work that never ends share one deadline", async () => {
  const { clock, lines, drained, isDone } = setUp({ stopConsuming: never, inFlight: [never()] });
  await clock.advance(999);
  assert.equal(isDone(), false);
  await clock.advance(1);
  // Done at the deadline: the work got what the cancel left of it, nothing.
  assert.equal(isDone(), true);
  await drained;
  assert.deepEqual(clock.asked, [1_000, 0]);
  assert.equal(clock.pending, 0, "a timer left behind");
  assert.match(lines[0], /^warn could not cancel.*"deadlineMs":1000,"error":"no cancel-ok"/);
  assert.match(lines[1], /^info draining \{pending\}.*"pending":1,"leftMs":0/);
  assert.match(lines[2], /^warn drain deadline of \{deadlineMs\}.*"left":1/);
});

Deno.test("drainWithin: the time the cancel took comes out of the work's", async () => {
  const cancel = Promise.withResolvers<void>();
  const { clock, lines, isDone } = setUp({
    stopConsuming: () => cancel.promise,
    inFlight: [never()],
  });
  await clock.advance(300);
  cancel.resolve();
  await settled();
  assert.deepEqual(clock.asked, [1_000, 700]);
  await clock.advance(699);
  assert.equal(isDone(), false);
  await clock.advance(1);
  assert.equal(isDone(), true);
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.match(lines[0], /"leftMs":700/);
  assert.match(lines[1], /^warn drain deadline/);
});

Deno.test("drainWithin: work that settles in time ends the drain then, without a warning", async () => {
  const work = Promise.withResolvers<void>();
  const { clock, lines, isDone } = setUp({
    stopConsuming: () => Promise.resolve(),
    inFlight: [work.promise, Promise.reject(new Error("a handler failed"))],
  });
  await clock.advance(400);
  assert.equal(isDone(), false);
  work.resolve();
  await settled();
  assert.equal(isDone(), true);
  assert.equal(clock.pending, 0, "a timer left behind");
  assert.deepEqual(lines.map((l) => l.split(" ")[0]), ["info"]);
});

Deno.test("drainWithin: nothing in flight returns on the cancel-ok; a failed cancel is logged", async () => {
  const { clock, lines, isDone } = setUp({
    stopConsuming: () => Promise.reject(new Error("channel closed")),
    inFlight: [],
  });
  await settled();
  assert.equal(isDone(), true);
  assert.deepEqual(clock.asked, [1_000]);
  assert.equal(clock.pending, 0, "a timer left behind");
  assert.deepEqual(lines, [
    'warn could not cancel the consumers within {deadlineMs} ms: {error} {"deadlineMs":1000,"error":"channel closed"}',
  ]);
});
