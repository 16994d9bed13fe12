import assert from "node:assert/strict";
import * as door from "./broker.ts";
import * as settle from "./settle.ts";

Deno.test("the door exports the DeadLetter that settling recognises", () => {
  // A service throws the door's DeadLetter; settle() tells it from other errors by class.
  assert.equal(door.DeadLetter, settle.DeadLetter);
});
