import assert from "node:assert/strict";
import { givenBackOutsideDrain } from "./autoscale_phases.ts";

const line = (message: string, fields: Record<string, unknown> = {}) => ({
  "@timestamp": "2026-12-05T21:46:09.259Z",
  replica: "ml_model.2",
  message,
  ...fields,
});

Deno.test("givenBackOutsideDrain counts what a dropped connection or a passed deadline gave back", () => {
  const said = [
    line("starting; broker amqps://rabbitmq:5671, prefetch 1"),
    line(
      "lost the connection to rabbitmq at rabbitmq:5671: Socket closed; reconnecting to rabbitmq:5671",
    ),
    line("the broker closed the features channel: PRECONDITION_FAILED; reconnecting"),
    line("drain deadline of 10000 ms passed with 3 messages in flight: they go back to the queue", {
      left: 3,
    }),
    line('stopping ("SIGTERM")', { why: "SIGTERM" }),
    line("stopped"),
  ];
  const given = givenBackOutsideDrain(said, 1);
  assert.equal(given.count, 1 + 1 + 3);
  assert.deepEqual(given.records, [said[1], said[2], said[3]]);
  assert.equal(
    givenBackOutsideDrain(said, 50).count,
    50 + 50 + 3,
    "a connection gives back its prefetch",
  );
});

Deno.test("givenBackOutsideDrain excuses nothing for a clean drain or one that closed with deliveries unsettled", () => {
  const said = [
    line('stopping ("SIGTERM")', { why: "SIGTERM" }),
    line("draining 1 in-flight messages within 10000 ms", { pending: 1, leftMs: 10000 }),
    line("closing with 1 deliveries unsettled: the broker delivers them again", { unsettled: 1 }),
    line("stopped"),
  ];
  assert.deepEqual(givenBackOutsideDrain(said, 1), { count: 0, records: [] });
});
