import assert from "node:assert/strict";
import { MemberRotation } from "./broker_members.ts";
import type { ChannelLike, ConnectionLike, ConsumerLike, ConsumerSpec } from "./run_loop_ports.ts";
import { RunLoop } from "./run_loop.ts";
import { createTelemetry } from "./telemetry.ts";
import { TopologyMismatch } from "./topology.ts";

const CONNECT_TIMEOUT_MS = 30_000;
const RECOVERY_CLOSE_TIMEOUT_MS = 20_000;
const URLS = ["amqp://a:5672", "amqp://b:5672", "amqp://c:5672"];

/** A channel that records how it was set up; the test closes it as the broker would. */
class FakeChannel implements ChannelLike<string> {
  closed = false;
  onerror: (reason: string) => void = () => {};
  confirming = false;
  prefetch: number | undefined;
  /** Tags of the consumers cancelled on it, in order. */
  readonly cancelled: string[] = [];
  readonly consumers: {
    queue: string;
    deliver: (message: string) => void;
    ended: PromiseWithResolvers<void>;
  }[] = [];

  /** `basicConsume` answers once this resolves (the broker's consume-ok). */
  constructor(readonly consumeOk: Promise<void> = Promise.resolve()) {}

  confirmSelect(): Promise<void> {
    this.confirming = true;
    return Promise.resolve();
  }

  basicQos(prefetchCount: number): Promise<void> {
    this.prefetch = prefetchCount;
    return Promise.resolve();
  }

  async basicConsume(
    queue: string,
    _params: { noAck: boolean },
    deliver: (message: string) => void,
  ): Promise<ConsumerLike> {
    await this.consumeOk;
    const ended = Promise.withResolvers<void>();
    this.consumers.push({ queue, deliver, ended });
    return { tag: `ctag-${queue}`, wait: () => ended.promise };
  }

  basicCancel(tag: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error("Channel closed"));
    this.cancelled.push(tag);
    return Promise.resolve();
  }

  /** The broker closes the channel (amqp-client: consumers reject, then `onerror`). */
  closeByBroker(reason: string): void {
    this.closed = true;
    for (const consumer of this.consumers) consumer.ended.reject(new Error(reason));
    this.onerror(reason);
  }
}

/** A connected connection; `drop()` loses it the way amqp-client reports a lost socket. */
class FakeConnection implements ConnectionLike<FakeChannel> {
  closed = false;
  readonly frameMax = 131_072;
  ondisconnect?: (error?: Error) => void;
  readonly channels: FakeChannel[] = [];
  /** The reason of each close() that closed it. */
  readonly closes: string[] = [];

  constructor(readonly url: string, readonly consumeOk?: Promise<void>) {}

  channel(): Promise<FakeChannel> {
    if (this.closed) return Promise.reject(new Error("Connection closed"));
    const channel = new FakeChannel(this.consumeOk);
    this.channels.push(channel);
    return Promise.resolve(channel);
  }

  close(reason = ""): Promise<void> {
    if (this.closed) return Promise.reject(new Error("Connection closed"));
    this.closed = true;
    this.closes.push(reason);
    for (const channel of this.channels) {
      channel.closed = true;
      for (const consumer of channel.consumers) consumer.ended.resolve();
    }
    return Promise.resolve();
  }

  /** Every channel closes with the error, then the connection reports the loss, in one turn. */
  drop(error = new Error("Socket closed")): void {
    this.closed = true;
    for (const channel of this.channels) channel.closeByBroker(error.message);
    this.ondisconnect?.(error);
  }
}

/** One call of `connect()`, answered by the test. */
interface Attempt {
  url: string;
  accept(): FakeConnection;
  refuse(error?: Error): void;
  promise: Promise<FakeConnection>;
}

interface SetupOptions {
  consumers?: ConsumerSpec<string>[];
  declare?: (channel: FakeChannel) => Promise<void>;
  /** Each consume on a connection waits for this (default: answered at once). */
  consumeOk?: Promise<void>;
}

/** A run loop over fakes: connects wait for the test, backoffs end at once, time stands still. */
function setup(options: SetupOptions = {}) {
  const attempts: Attempt[] = [];
  const sleeps: number[] = [];
  const timeouts: (() => void)[] = [];
  const logs: { level: string; message: string; properties: Record<string, unknown> }[] = [];
  const declared: FakeChannel[] = [];
  let disconnects = 0;
  let clock = 0;
  const record = (level: string) => (message: string, properties: Record<string, unknown>) =>
    logs.push({ level, message, properties });
  const telemetry = createTelemetry("test", "r");
  const loop = new RunLoop<string, FakeChannel>({
    members: new MemberRotation(URLS, 0),
    connect(url) {
      const answer = Promise.withResolvers<FakeConnection>();
      attempts.push({
        url,
        accept() {
          const connection = new FakeConnection(url, options.consumeOk);
          answer.resolve(connection);
          return connection;
        },
        refuse: (error = new Error("ECONNREFUSED")) => answer.reject(error),
        promise: answer.promise,
      });
      return answer.promise;
    },
    async declare(open) {
      const channel = await open();
      declared.push(channel);
      await (options.declare?.(channel) ?? Promise.resolve());
    },
    consumers: options.consumers ?? [],
    log: { info: record("info"), warn: record("warn"), error: record("error") },
    telemetry,
    retryInitialMs: 500,
    retryMaxMs: 8_000,
    onDisconnect: () => disconnects++,
    sleep(ms, signal) {
      if (ms !== CONNECT_TIMEOUT_MS) {
        if (ms !== RECOVERY_CLOSE_TIMEOUT_MS) sleeps.push(ms);
        return Promise.resolve();
      }
      // The connect timeout ends when the test says so, or when cut short.
      return new Promise((resolve) => {
        timeouts.push(resolve);
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    },
    now: () => clock,
    random: () => 0.5, // no jitter
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    recoveryCloseTimeoutMs: RECOVERY_CLOSE_TIMEOUT_MS,
  });
  let outcome: "running" | "ended" | Error = "running";
  loop.run().then(() => outcome = "ended", (error) => outcome = error);

  return {
    loop,
    telemetry,
    logs,
    declared,
    /** Backoff delays slept, in order. */
    sleeps,
    outcome: () => outcome,
    disconnects: () => disconnects,
    advance: (ms: number) => clock += ms,
    /** Ends every connect timeout being waited on. */
    timeOut: () => timeouts.splice(0).forEach((resolve) => resolve()),
    /** The `n`th connect attempt (0-based), once the loop has made it. */
    async attempt(n: number): Promise<Attempt> {
      await until(() => attempts.length > n, `connect attempt ${n + 1} was made`);
      return attempts[n];
    },
    attempts: () => attempts.length,
    /** The URL of each connect attempt, in order. */
    urls: () => attempts.map((attempt) => attempt.url),
    /** Lines whose message starts with `start`. */
    lines: (start: string) => logs.filter((line) => line.message.startsWith(start)),
    /** Accepts attempt `n` and waits until the loop reports it connected. */
    async connect(n: number): Promise<FakeConnection> {
      const connection = (await this.attempt(n)).accept();
      const before = this.lines("connected to rabbitmq").length;
      await until(
        () => this.lines("connected to rabbitmq").length > before,
        `connection ${n + 1} came up`,
      );
      return connection;
    },
  };
}

/**
 * Waits until `condition` holds, letting the loop run: every fake answers
 * through promises, so the loop progresses within microtasks. Fails (rather
 * than hangs) when the condition never holds.
 */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 10_000; turn++) {
    if (condition()) return;
    await Promise.resolve();
  }
  assert.fail(`Expected that ${what}, but it did not happen`);
}

/** Lets the loop run until it waits on something the test controls. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 1_000; turn++) await Promise.resolve();
}

async function metric(
  telemetry: ReturnType<typeof createTelemetry>,
  name: "connected" | "reconnects" | "channelCloses" | "brokerMember",
) {
  return (await telemetry[name].get()).values.map(({ labels, value }) => ({ labels, value }));
}

Deno.test("RunLoop retries a refused first connect with growing backoff, waiting for rabbitmq", async () => {
  const w = setup();
  let connected = false;
  w.loop.whenConnected().then(() => connected = true);
  for (let n = 0; n < 3; n++) (await w.attempt(n)).refuse();
  await w.connect(3);
  assert.deepEqual(w.sleeps, [500, 1_000, 2_000]);
  const waiting = w.lines("waiting for rabbitmq at {host}");
  assert.equal(waiting.length, 3);
  assert.equal(waiting[0].level, "warn");
  assert.deepEqual(waiting[0].properties, {
    host: "a:5672",
    error: "ECONNREFUSED",
    next: "b:5672",
    delay: 500,
    attempt: 1,
  });
  await settle();
  assert.ok(connected, "whenConnected() resolves once a connect succeeded");
  assert.equal(w.outcome(), "running", "the first connect's failures do not end the loop");
  assert.deepEqual(w.lines("connected to rabbitmq")[0].properties, {
    host: "a:5672",
    member: 1,
    members: 3,
    connection: 1,
    frameMax: 131_072,
  });
  await w.loop.stop();
});

Deno.test("RunLoop resolves whenConnected() only once a connect succeeded", async () => {
  const w = setup();
  let connected = false;
  w.loop.whenConnected().then(() => connected = true);
  (await w.attempt(0)).refuse();
  await w.attempt(1);
  await settle();
  assert.equal(connected, false);
  assert.equal(w.loop.connected, false);
  (await w.attempt(1)).accept();
  await until(() => connected, "whenConnected() resolved");
  assert.equal(w.loop.connected, true);
  assert.deepEqual(await metric(w.telemetry, "connected"), [{ labels: {}, value: 1 }]);
  await w.loop.stop();
});

Deno.test("RunLoop attaches the topology, a confirm channel and each consumer on its own channel", async () => {
  const received: string[] = [];
  const w = setup({
    consumers: [
      { queue: "features", prefetch: 5, onMessage: (message) => received.push(message) },
      { queue: "y_true", prefetch: 7, onMessage: () => {} },
    ],
  });
  const connection = await w.connect(0);
  const [topology, publish, features, yTrue] = connection.channels;
  assert.deepEqual(w.declared, [topology]);
  assert.equal(publish.confirming, true);
  assert.equal(w.loop.publishChannel, publish);
  assert.deepEqual(
    w.loop.consumerChannels.map(({ channel, tag }) => [channel, tag]),
    [[features, "ctag-features"], [yTrue, "ctag-y_true"]],
  );
  assert.deepEqual([features.prefetch, yTrue.prefetch], [5, 7]);
  features.consumers[0].deliver("a sample");
  assert.deepEqual(received, ["a sample"]);
  await w.loop.stop();
});

Deno.test("RunLoop.stopConsuming cancels every consumer, attaches none after, and keeps publishing", async () => {
  const w = setup({
    consumers: [
      { queue: "features", prefetch: 5, onMessage: () => {} },
      { queue: "y_true", prefetch: 7, onMessage: () => {} },
    ],
  });
  const first = await w.connect(0);
  await w.loop.stopConsuming();
  const [, publish, features, yTrue] = first.channels;
  assert.deepEqual([features.cancelled, yTrue.cancelled], [["ctag-features"], ["ctag-y_true"]]);
  assert.equal(w.loop.publishChannel, publish, "publishing goes on: held work is settled with it");
  assert.equal(first.closed, false);
  // A connection lost while draining comes back without consumers, to publish only.
  first.drop();
  const second = await w.connect(1);
  assert.equal(second.channels.length, 2, "the topology's and the publish channel, no consumer");
  assert.ok(w.loop.publishChannel?.confirming);
  await w.loop.stop();
});

Deno.test("RunLoop.stopConsuming during an attach waits for the consumer under way, cancels it, and attaches no more", async () => {
  // A SIGTERM may come while a new replica attaches: a consumer the broker is already
  // delivering to must be cancelled, or what it was sent goes back only when the connection
  // closes, redelivered.
  const consumeOk = Promise.withResolvers<void>();
  const w = setup({
    consumeOk: consumeOk.promise,
    consumers: [
      { queue: "features", prefetch: 5, onMessage: () => {} },
      { queue: "y_true", prefetch: 7, onMessage: () => {} },
    ],
  });
  const connection = (await w.attempt(0)).accept();
  await until(() => connection.channels.length === 3, "the first consumer's channel opened");
  let stopped = false;
  const stopping = w.loop.stopConsuming().then(() => stopped = true);
  await settle();
  assert.equal(stopped, false, "stopConsuming() waits for the consume under way");
  consumeOk.resolve();
  await stopping;
  const [, , features] = connection.channels;
  assert.deepEqual(features.cancelled, ["ctag-features"], "the consumer attached meanwhile");
  assert.equal(connection.channels.length, 3, "no channel opened for y_true");
  assert.equal(w.lines("connected to rabbitmq").length, 1, "still connected, to publish");
  await w.loop.stop();
});

Deno.test("RunLoop reconnects after a dropped connection, to the next member", async () => {
  const w = setup({ consumers: [{ queue: "features", prefetch: 5, onMessage: () => {} }] });
  const first = await w.connect(0);
  first.drop(new Error("Socket closed"));
  const attempt = await w.attempt(1);
  assert.equal(w.loop.connected, false);
  assert.equal(w.loop.publishChannel, undefined);
  assert.deepEqual(await metric(w.telemetry, "connected"), [{ labels: {}, value: 0 }]);
  assert.equal(attempt.url, URLS[1]);
  assert.equal(w.disconnects(), 1);
  const [lost] = w.lines("lost the connection to rabbitmq");
  assert.deepEqual(lost.properties, { host: "a:5672", error: "Socket closed", next: "b:5672" });
  const second = await w.connect(1);
  assert.equal(w.loop.connected, true);
  assert.equal(second.channels.length, 3, "topology, publish and consumer channels again");
  assert.deepEqual(await metric(w.telemetry, "reconnects"), [{ labels: {}, value: 1 }]);
  assert.deepEqual(await metric(w.telemetry, "channelCloses"), [], "a drop is not a channel loss");
  await w.loop.stop();
});

Deno.test("RunLoop backs off after a connection lost soon after it came up, not after a stable one", async () => {
  const w = setup();
  (await w.connect(0)).drop();
  (await w.connect(1)).drop();
  const stable = await w.connect(2);
  w.advance(5_000);
  stable.drop();
  (await w.connect(3)).drop();
  await w.attempt(4);
  assert.deepEqual(w.sleeps, [500, 1_000, 500]);
  await w.loop.stop();
});

Deno.test("RunLoop moves to the next member after each failed connect and lost connection", async () => {
  const w = setup();
  (await w.attempt(0)).refuse();
  (await w.attempt(1)).refuse();
  const third = await w.connect(2);
  assert.deepEqual(await metric(w.telemetry, "brokerMember"), [
    { labels: { member: "a:5672" }, value: 0 },
    { labels: { member: "b:5672" }, value: 0 },
    { labels: { member: "c:5672" }, value: 1 },
  ]);
  third.drop();
  await w.attempt(3);
  assert.deepEqual(w.urls(), [URLS[0], URLS[1], URLS[2], URLS[0]]);
  await w.loop.stop();
});

Deno.test("RunLoop treats a channel closed by the broker as a lost connection", async (t) => {
  const cases: [string, (connection: FakeConnection) => void, string][] = [
    [
      "the publish channel",
      (connection) => connection.channels[1].closeByBroker("PRECONDITION_FAILED (406)"),
      "publish",
    ],
    [
      "a consumer's channel",
      (connection) => connection.channels[2].closeByBroker("PRECONDITION_FAILED (406)"),
      "features",
    ],
    [
      "a consumer cancelled (its queue deleted)",
      (connection) =>
        connection.channels[2].consumers[0].ended.reject(new Error("PRECONDITION_FAILED (406)")),
      "features",
    ],
  ];
  for (const [what, close, channel] of cases) {
    await t.step(what, async () => {
      const w = setup({ consumers: [{ queue: "features", prefetch: 1, onMessage: () => {} }] });
      const first = await w.connect(0);
      close(first);
      const attempt = await w.attempt(1);
      assert.deepEqual(first.closes, ["recovering from a closed channel"]);
      assert.equal(w.loop.connected, false);
      assert.deepEqual(await metric(w.telemetry, "channelCloses"), [
        { labels: { channel }, value: 1 },
      ]);
      const [line] = w.lines("the broker closed the {channel} channel");
      assert.equal(line.level, "error");
      assert.deepEqual(line.properties, { channel, error: "PRECONDITION_FAILED (406)" });
      assert.equal(attempt.url, URLS[0], "the member is fine: the same one again");
      assert.equal(w.disconnects(), 1);
      await w.connect(1);
      assert.equal(w.loop.connected, true);
      await w.loop.stop();
    });
  }
});

Deno.test("RunLoop resolves stop() at once while a connect is in flight, and closes what it opens", async () => {
  const w = setup();
  const attempt = await w.attempt(0);
  let stopped = false;
  w.loop.stop().then(() => stopped = true);
  await until(() => stopped, "stop() resolved with the connect still in flight");
  assert.equal(w.outcome(), "ended");
  const late = attempt.accept();
  await until(() => late.closed, "the connection opened after stop() was closed");
  assert.deepEqual(late.channels, [], "nothing was attached on it");
  assert.equal(w.lines("connected to rabbitmq").length, 0);
  assert.equal(w.attempts(), 1, "no reconnect after stop()");
  await w.loop.whenConnected(); // released by stop()
});

Deno.test("RunLoop closes the connection on stop() and ends", async () => {
  const w = setup();
  const connection = await w.connect(0);
  await w.loop.stop();
  assert.deepEqual(connection.closes, ["shutdown"]);
  assert.equal(w.outcome(), "ended");
  assert.equal(w.loop.connected, false);
  await settle();
  assert.equal(w.attempts(), 1);
  assert.equal(w.disconnects(), 0);
});

Deno.test("RunLoop abandons a connect that hangs, tries the next member, and closes it once it opens", async () => {
  const w = setup();
  const hung = await w.attempt(0);
  w.timeOut();
  const next = await w.attempt(1);
  assert.equal(next.url, URLS[1]);
  assert.equal(w.lines("waiting for rabbitmq")[0].properties.error, "no answer within 30000 ms");
  const late = hung.accept();
  await until(() => late.closed, "the abandoned connection was closed");
  await w.loop.stop();
});

Deno.test("RunLoop ends with an error when the process may not reach the broker", async () => {
  const w = setup();
  (await w.attempt(0)).refuse(new Deno.errors.PermissionDenied("Requires net access"));
  await until(() => w.outcome() instanceof Error, "the loop ended with an error");
  assert.equal(
    (w.outcome() as Error).message,
    "Cannot connect to rabbitmq at 'a:5672': Requires net access",
  );
  assert.equal(w.attempts(), 1);
});

Deno.test("RunLoop retries a topology mismatch on the same member, as an error", async () => {
  let declares = 0;
  const w = setup({
    declare() {
      if (declares++ > 0) return Promise.resolve();
      return Promise.reject(new TopologyMismatch("features", "quorum", "inequivalent arg"));
    },
  });
  const first = (await w.attempt(0)).accept();
  const again = await w.attempt(1);
  assert.ok(first.closed, "the connection that could not declare was closed");
  assert.equal(again.url, URLS[0]);
  assert.deepEqual(w.sleeps, [500]);
  const [line] = w.logs.filter((line) => line.level === "error");
  assert.match(String(line.properties.error), /Cannot declare queue 'features'/);
  assert.equal(w.lines("waiting for rabbitmq").length, 0);
  await w.connect(1);
  await w.loop.stop();
});

Deno.test("RunLoop closes a connection lost while attaching and tries the next member", async () => {
  const w = setup({
    declare: () => Promise.reject(new Error("channel 1 closed: NOT_ALLOWED (530)")),
  });
  const first = (await w.attempt(0)).accept();
  const next = await w.attempt(1);
  assert.ok(first.closed);
  assert.equal(next.url, URLS[1]);
  assert.equal(
    w.lines("waiting for rabbitmq")[0].properties.error,
    "channel 1 closed: NOT_ALLOWED (530)",
  );
  await w.loop.stop();
});
