/**
 * Every service of the stack files is hardened (docker-stack.yml, "Hardening"): a read-only root,
 * every capability dropped (a capability given back says why in a comment above it), a CPU and a
 * PID limit, and its secrets mounted 0400 for the user it runs as. A service added without them
 * fails here. The files are read as text, as Docker's CLI would after resolving `<<: *anchor`.
 */
import assert from "node:assert/strict";
import { SERVICE_UID } from "./images/dockerfile.ts";
import { SERVICES } from "./services.ts";

const ROOT = new URL("../", import.meta.url);
const STACK = await Deno.readTextFile(new URL("docker-stack.yml", ROOT));
const CLUSTER = await Deno.readTextFile(new URL("docker-stack.cluster.yml", ROOT));

/** The lines of the top-level `x-name: &anchor` blocks, by anchor. */
function anchorsOf(text: string): Map<string, string[]> {
  const anchors = new Map<string, string[]>();
  for (const match of text.matchAll(/^x-[\w-]+: &([\w-]+)\n((?: {2}.*\n|\s*\n)+)/gm)) {
    anchors.set(match[1], match[2].split("\n"));
  }
  return anchors;
}

/**
 * Each service's block (its lines, indented 4 for its keys), with the lines of the anchors it
 * merges (`<<: *name`) put in their place, indented to match.
 */
function servicesOf(text: string): Map<string, string> {
  const anchors = anchorsOf(text);
  const section = /^services:\n((?: {2}.*\n|\s*\n)+)/m.exec(text);
  assert.ok(section, "a services: section");
  const services = new Map<string, string>();
  for (const match of section[1].matchAll(/^ {2}([\w-]+):\n((?: {4}.*\n|\s*\n)*)/gm)) {
    const lines = match[2].split("\n").flatMap((line) => {
      const merge = /^ {4}<<: \*([\w-]+)$/.exec(line);
      if (!merge) return [line];
      const anchor = anchors.get(merge[1]);
      assert.ok(anchor, `${match[1]} merges an anchor that is not defined: ${merge[1]}`);
      return anchor.map((anchored) => (anchored ? `  ${anchored}` : anchored));
    });
    services.set(match[1], lines.join("\n"));
  }
  return services;
}

/** The text of `key`'s value in a block: its own line's rest and the lines indented under it. */
function valueOf(block: string, key: string, indent: number): string | undefined {
  const lines = block.split("\n");
  const start = lines.findIndex((line) => line.startsWith(`${" ".repeat(indent)}${key}:`));
  if (start < 0) return undefined;
  const deeper = lines.slice(start + 1).findIndex((line) =>
    line.trim() !== "" && !line.startsWith(" ".repeat(indent + 1))
  );
  const end = deeper < 0 ? lines.length : start + 1 + deeper;
  return lines.slice(start, end).join("\n").slice(indent + key.length + 1);
}

/** The `uid:gid` each secret is mounted for; throws if one is not 0400 or names no owner. */
function secretOwners(service: string, block: string): Map<string, string> {
  const owners = new Map<string, string>();
  const value = valueOf(block, "secrets", 4);
  if (value === undefined) return owners;
  assert.doesNotMatch(
    value,
    /^\s*\[/,
    `${service}: secrets in the long syntax, with mode and owner`,
  );
  for (const item of value.split("\n").filter((line) => /^\s+- /.test(line))) {
    const match = /^\s+- \{ source: ([\w-]+), uid: "(\d+)", gid: "(\d+)", mode: 0400 \}(?:\s*#.*)?$/
      .exec(item);
    assert.ok(match, `${service}: a secret mounted 0400 for a uid and gid: ${item.trim()}`);
    owners.set(match[1], `${match[2]}:${match[3]}`);
  }
  return owners;
}

/** Throws unless `block` hardens its service in every way the stack files promise. */
function assertHardened(service: string, block: string): void {
  assert.match(block, /^ {4}read_only: true$/m, `${service}: read_only: true`);
  assert.match(block, /^ {4}cap_drop: \[ALL\]/m, `${service}: cap_drop: [ALL]`);
  const capAdd = /^(.*)\n {4}cap_add:/m.exec(block);
  if (capAdd) assert.match(capAdd[1], /^ {4}#/, `${service}: a comment says why cap_add`);
  const limits = valueOf(block, "limits", 8);
  assert.ok(limits, `${service}: deploy.resources.limits`);
  assert.match(limits, /cpus: "\$\{[A-Z_]+_CPUS:-[\d.]+\}"/, `${service}: a CPUS knob as limit`);
  // A literal: Docker 20.10's CLI refuses a ${VARIABLE} here ("pids must be a integer").
  assert.match(limits, /pids: \d+\b/, `${service}: a PID limit`);
  const owners = new Set(secretOwners(service, block).values());
  assert.ok(owners.size <= 1, `${service}: all its secrets for one user, not ${[...owners]}`);
}

Deno.test("every service of docker-stack.yml is hardened", () => {
  const services = servicesOf(STACK);
  assert.ok(services.size >= 7, `services found: ${[...services.keys()]}`);
  for (const [service, block] of services) assertHardened(service, block);
});

Deno.test("the cluster's new members are hardened, and its overrides keep each service's owner", () => {
  const base = servicesOf(STACK);
  const members = [...servicesOf(CLUSTER)].filter(([, block]) => /^ {4}image:/m.test(block));
  assert.ok(members.length >= 2, "rabbitmq-2 and rabbitmq-3");
  for (const [service, block] of servicesOf(CLUSTER)) {
    if (/^ {4}image:/m.test(block)) {
      assertHardened(service, block);
      continue;
    }
    const own = base.get(service);
    assert.ok(own, `${service} overrides a service docker-stack.yml does not have`);
    assert.doesNotMatch(block, /read_only: false|cap_add:/, `${service} undoes the hardening`);
    const owners = new Set([
      ...secretOwners(service, own).values(),
      ...secretOwners(service, block).values(),
    ]);
    assert.ok(owners.size <= 1, `${service}: its secrets for one user, not ${[...owners]}`);
  }
});

Deno.test("the Deno services' secrets belong to the user their images run as", () => {
  const services = servicesOf(STACK);
  for (const { name } of SERVICES) {
    const block = services.get(name);
    assert.ok(block, `docker-stack.yml has ${name}`);
    for (const [secret, owner] of secretOwners(name, block)) {
      assert.equal(owner, `${SERVICE_UID}:${SERVICE_UID}`, `${name}: ${secret}`);
    }
  }
});

Deno.test("the broker's members mount their secrets for one user", () => {
  const owners = new Set(
    ["rabbitmq", "rabbitmq-2", "rabbitmq-3"].flatMap((member) => {
      const block = servicesOf(STACK).get(member) ?? servicesOf(CLUSTER).get(member);
      assert.ok(block, member);
      return [...secretOwners(member, block).values()];
    }),
  );
  assert.equal(owners.size, 1, `one owner on every member: ${[...owners]}`);
});

Deno.test("the stack files, and the override the cluster test writes, declare one compose version", async () => {
  // `pids` needs 3.9, and `docker stack deploy` refuses files of two versions together.
  const cluster = await Deno.readTextFile(new URL("tests/swarm/e2e_cluster.ts", ROOT));
  const versions = [STACK, CLUSTER, cluster].map((text) =>
    /version: \\?"([\d.]+)\\?"/.exec(text)?.[1]
  );
  assert.deepEqual(versions, ["3.9", "3.9", "3.9"]);
});
