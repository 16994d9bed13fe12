import assert from "node:assert/strict";
import { coalesceWrites, type FrameSender } from "./transport.ts";

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
