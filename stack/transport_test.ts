import assert from "node:assert/strict";
import {
  coalesceWrites,
  FrameReassembler,
  type FrameSender,
  MAX_FRAME_BYTES,
} from "./transport.ts";

/** A client whose socket records each write; `fail` makes the next write reject. */
function fakeClient() {
  const writes: number[][] = [];
  const client = {
    fail: false,
    send(bytes: Uint8Array): Promise<void> {
      writes.push([...bytes]);
      return client.fail ? Promise.reject(new Error("socket closed")) : Promise.resolve();
    },
  };
  return { client: client as FrameSender & { fail: boolean }, writes };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("coalesceWrites() sends the frames of one turn in one write, in order", async () => {
  const { client, writes } = fakeClient();
  coalesceWrites(client);
  const sent = [client.send(new Uint8Array([1, 2])), client.send(new Uint8Array([3]))];
  await Promise.resolve();
  sent.push(client.send(new Uint8Array([4, 5, 6])));
  assert.deepEqual(writes, [], "nothing leaves before the turn ends");
  await Promise.all(sent);
  assert.deepEqual(writes, [[1, 2, 3, 4, 5, 6]]);
});

Deno.test("coalesceWrites() starts a new write for frames of a later turn", async () => {
  const { client, writes } = fakeClient();
  coalesceWrites(client);
  await client.send(new Uint8Array([1]));
  await turn();
  await client.send(new Uint8Array([2]));
  assert.deepEqual(writes, [[1], [2]]);
});

Deno.test("coalesceWrites() resolves a frame only after its write was handed over", async () => {
  const { client } = fakeClient();
  coalesceWrites(client);
  let resolved = false;
  const sent = client.send(new Uint8Array([1])).then(() => resolved = true);
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(resolved, false);
  await sent;
  assert.equal(resolved, true);
});

Deno.test("coalesceWrites() rejects every frame of a failed write", async () => {
  const { client } = fakeClient();
  coalesceWrites(client);
  client.fail = true;
  const results = await Promise.allSettled([
    client.send(new Uint8Array([1])),
    client.send(new Uint8Array([2])),
  ]);
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
});

/** An AMQP frame of `type` on `channel` with `payload` bytes of `fill`. */
function frame(payload: number, fill = 0x61, type = 3, channel = 1): Uint8Array {
  const bytes = new Uint8Array(payload + 8).fill(fill);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, type);
  view.setUint16(1, channel);
  view.setUint32(3, payload);
  bytes[payload + 7] = 0xce;
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Feeds `stream` cut at `cuts` and returns copies of the frames that came out. */
function reassemble(stream: Uint8Array, cuts: number[]): number[][] {
  const reader = new FrameReassembler();
  const frames: number[][] = [];
  let from = 0;
  for (const to of [...cuts, stream.byteLength]) {
    reader.push(stream.subarray(from, to), (f) => frames.push([...f]));
    from = to;
  }
  assert.equal(reader.pending, 0, "bytes left over after the last frame");
  return frames;
}

Deno.test("FrameReassembler returns each frame whole, however the reads cut the stream", async (t) => {
  const small = frame(5, 0x01);
  const big = frame(12_018, 0x02); // a 12 KB header frame, above the client's 8 KiB
  const huge = frame(300_000, 0x03); // above the 16 KiB start buffer and the broker's 128 KiB
  const stream = concat(small, big, small, huge, small);
  const expected = [small, big, small, huge, small].map((f) => [...f]);

  await t.step("in one read", () => {
    assert.deepEqual(reassemble(stream, []), expected);
  });
  await t.step("cut inside every frame header and end octet", () => {
    const boundaries = [0, small.length, small.length + big.length];
    const cuts = boundaries.flatMap((b) => [b + 1, b + 3, b + 6, b + 7]).filter((c) => c > 0);
    assert.deepEqual(reassemble(stream, [...new Set(cuts)].sort((a, b) => a - b)), expected);
  });
  await t.step("in reads of 1, 7, 1000 and 8192 bytes", () => {
    for (const size of [1, 7, 1000, 8192]) {
      const cuts = [];
      for (let at = size; at < stream.byteLength; at += size) cuts.push(at);
      assert.deepEqual(reassemble(stream, cuts), expected, `reads of ${size} bytes`);
    }
  });
  await t.step("cut one byte before the end of the big frame", () => {
    const end = small.length + big.length;
    assert.deepEqual(reassemble(stream, [end - 1]), expected);
  });
});

Deno.test("FrameReassembler refuses a frame size no broker sends", () => {
  const header = new Uint8Array(7);
  new DataView(header.buffer).setUint32(3, MAX_FRAME_BYTES);
  const reader = new FrameReassembler();
  assert.throws(
    () => reader.push(header, () => {}),
    RangeError,
    "Cannot read an AMQP frame as its size exceeds",
  );
});
