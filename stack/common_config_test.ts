import assert from "node:assert/strict";
import {
  brokerAddress,
  brokerUrls,
  type CommonConfig,
  commonSchema,
  LOG_LEVELS,
  redactUrl,
  replicaName,
} from "./common_config.ts";
import { ConfigError, loadConfig } from "./config.ts";

const schema = commonSchema({ httpPort: 8001, prefetch: 7 });

function load(values: Record<string, string>): CommonConfig {
  return loadConfig(schema, (name) => values[name], (path) => {
    throw new Error(`unexpected read of ${path}`);
  });
}

function problems(values: Record<string, string>): readonly string[] {
  try {
    load(values);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("commonSchema() gives the service's defaults when nothing is set", () => {
  const config = load({});
  assert.deepEqual(config.amqpUrls.map((url) => url.href), ["amqp://localhost:5672"]);
  assert.deepEqual({ ...config, amqpUrls: undefined }, {
    amqpUrls: undefined,
    amqpUser: "",
    amqpPassword: "",
    amqpCa: "",
    prefetch: 7,
    logLevel: "info",
    logFormat: undefined,
    httpPort: 8001,
    httpToken: "",
    replica: "",
    hostname: "",
    shutdownTimeoutMs: 10_000,
    memoryLimitBytes: 0,
    queueType: "quorum",
  });
  assert.deepEqual(LOG_LEVELS, ["debug", "info", "warning", "error"]);
});

Deno.test("AMQP_URL accepts amqp: and amqps: URLs", async (t) => {
  const cases: [string, string][] = [
    ["amqp://rabbitmq:5672", "amqp://rabbitmq:5672"],
    ["  amqp://rabbitmq:5672/  ", "amqp://rabbitmq:5672/"],
    ["amqps://broker.internal:5671/prod", "amqps://broker.internal:5671/prod"],
    ["amqp://user:pass@localhost/%2F", "amqp://user:pass@localhost/%2F"],
    ["AMQP://LOCALHOST:5672", "amqp://LOCALHOST:5672"],
  ];
  for (const [raw, href] of cases) {
    await t.step(raw.trim(), () => {
      assert.deepEqual(load({ AMQP_URL: raw }).amqpUrls.map((url) => url.href), [href]);
    });
  }
});

Deno.test("AMQP_URL accepts the comma-separated members of a cluster, in order", async (t) => {
  const cases: [string, string[]][] = [
    [
      "amqp://rabbitmq:5672,amqp://rabbitmq-2:5672,amqp://rabbitmq-3:5672",
      ["amqp://rabbitmq:5672", "amqp://rabbitmq-2:5672", "amqp://rabbitmq-3:5672"],
    ],
    [
      " amqp://u:p@a/prod , amqps://u:p@b:5671/prod ",
      ["amqp://u:p@a/prod", "amqps://u:p@b:5671/prod"],
    ],
    ["amqp://a,amqp://b/", ["amqp://a", "amqp://b/"]],
    ["amqp://a:5672,amqp://a:5673", ["amqp://a:5672", "amqp://a:5673"]],
  ];
  for (const [raw, hrefs] of cases) {
    await t.step(raw.trim(), () => {
      assert.deepEqual(load({ AMQP_URL: raw }).amqpUrls.map((url) => url.href), hrefs);
    });
  }
});

Deno.test("AMQP_URL names the bad entry of a list, never showing a password", async (t) => {
  const cases: [string, string][] = [
    [
      "amqp://u:secret@a:5672,http://u:secret@b:5672",
      'AMQP_URL must use the amqp: or amqps: scheme: current value of entry 2 of 2 is "http://u:***@b:5672/"',
    ],
    [
      "amqp://a,amqp://u:p@ss@b:56x72,amqp://c",
      'AMQP_URL must be a URL like amqp://host:5672: current value of entry 2 of 3 is "amqp://u:***@b:56x72"',
    ],
    [
      "amqp://a,,amqp://c",
      "AMQP_URL must be comma-separated URLs like amqp://host:5672: current value of entry 2 of 3 is empty",
    ],
    [
      "amqp://a:5672,amqp://u:secret@a",
      'AMQP_URL must name each broker once: current value of entry 2 of 2 is "amqp://u:***@a", which repeats a:5672',
    ],
    [
      "amqp://a/prod,amqp://u:secret@b/test",
      'AMQP_URL must name one vhost, as its brokers are members of one cluster: current value of entry 2 of 2 is "amqp://u:***@b/test", whose vhost differs from entry 1\'s',
    ],
  ];
  for (const [raw, problem] of cases) {
    await t.step(raw, () => {
      assert.deepEqual(problems({ AMQP_URL: raw }), [problem]);
    });
  }
  await t.step('"/" and no path are the same default vhost', () => {
    assert.equal(load({ AMQP_URL: "amqp://a,amqp://b/" }).amqpUrls.length, 2);
  });
});

Deno.test("AMQP_URL rejects what is not an amqp: URL, never showing a password", async (t) => {
  const cases: [string, string][] = [
    [
      "localhost:5672",
      'AMQP_URL must use the amqp: or amqps: scheme: current value is "localhost:5672"',
    ],
    ["not a url", 'AMQP_URL must be a URL like amqp://host:5672: current value is "not a url"'],
    [
      "http://user:secret@rabbitmq:5672",
      'AMQP_URL must use the amqp: or amqps: scheme: current value is "http://user:***@rabbitmq:5672/"',
    ],
    [
      "amqp://user:secret@rabbitmq:99999",
      'AMQP_URL must be a URL like amqp://host:5672: current value is "amqp://user:***@rabbitmq:99999"',
    ],
    [
      "amqp://user:p@ss@rabbitmq:5672x/vhost",
      'AMQP_URL must be a URL like amqp://host:5672: current value is "amqp://user:***@rabbitmq:5672x/vhost"',
    ],
  ];
  for (const [raw, problem] of cases) {
    await t.step(raw, () => {
      assert.deepEqual(problems({ AMQP_URL: raw }), [problem]);
    });
  }
});

Deno.test("commonSchema() reports every bad shared variable at once", () => {
  assert.deepEqual(
    problems({
      AMQP_URL: "ftp://x",
      PREFETCH: "0",
      LOG_LEVEL: "trace",
      HTTP_PORT: "70000",
      REPLICA: "model 1",
      SHUTDOWN_TIMEOUT_MS: "-5",
    }),
    [
      'AMQP_URL must use the amqp: or amqps: scheme: current value is "ftp://x/"',
      'PREFETCH must be an integer from 1 to 65535: current value is "0"',
      'LOG_LEVEL must be one of debug, info, warning, error: current value is "trace"',
      'HTTP_PORT must be an integer from 0 to 65535: current value is "70000"',
      "REPLICA must be at most 64 letters, digits, '.', ':', '_' or '-': current value is \"model 1\"",
      'SHUTDOWN_TIMEOUT_MS must be an integer from 0 to 600000: current value is "-5"',
    ],
  );
});

Deno.test("LOG_FORMAT is json or pretty, and unset leaves the choice to the terminal", async (t) => {
  const cases: [Record<string, string>, string | undefined][] = [
    [{}, undefined],
    [{ LOG_FORMAT: "" }, undefined],
    [{ LOG_FORMAT: "json" }, "json"],
    [{ LOG_FORMAT: " Pretty " }, "pretty"],
  ];
  for (const [values, format] of cases) {
    await t.step(JSON.stringify(values), () => {
      assert.equal(load(values).logFormat, format);
    });
  }
  await t.step("anything else is a problem that names the choices", () => {
    assert.deepEqual(problems({ LOG_FORMAT: "yaml" }), [
      'LOG_FORMAT must be one of json, pretty: current value is "yaml"',
    ]);
  });
});

Deno.test("brokerUrls() folds AMQP_USER and AMQP_PASSWORD into each URL", async (t) => {
  const cases: [string, Record<string, string>, string][] = [
    ["keeps the URL as it is without them", {
      AMQP_URL: "amqp://u:p@rabbitmq:5672/v",
    }, "amqp://u:p@rabbitmq:5672/v"],
    ["adds both to a URL without credentials", {
      AMQP_URL: "amqp://rabbitmq:5672",
      AMQP_USER: "ml",
      AMQP_PASSWORD: "s3cret",
    }, "amqp://ml:s3cret@rabbitmq:5672"],
    ["overrides the URL's credentials", {
      AMQP_URL: "amqp://guest:guest@rabbitmq:5672/",
      AMQP_USER: "ml",
      AMQP_PASSWORD: "s3cret",
    }, "amqp://ml:s3cret@rabbitmq:5672/"],
    ["overrides only the password", {
      AMQP_URL: "amqp://guest:guest@rabbitmq:5672",
      AMQP_PASSWORD: "other",
    }, "amqp://guest:other@rabbitmq:5672"],
    ["URL-encodes characters that mean something in a URL", {
      AMQP_URL: "amqp://rabbitmq:5672/",
      AMQP_USER: "al ice@corp",
      AMQP_PASSWORD: "p@ss:w/rd%?#",
    }, "amqp://al%20ice%40corp:p%40ss%3Aw%2Frd%25%3F%23@rabbitmq:5672/"],
  ];
  for (const [name, values, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(brokerUrls(load(values)), [expected]);
    });
  }

  await t.step("into every member's URL", () => {
    assert.deepEqual(
      brokerUrls(load({
        AMQP_URL: "amqp://guest:guest@a:5672/v,amqp://b:5672/v",
        AMQP_USER: "ml",
        AMQP_PASSWORD: "s3cret",
      })),
      ["amqp://ml:s3cret@a:5672/v", "amqp://ml:s3cret@b:5672/v"],
    );
  });

  await t.step("gives back exactly the credentials once decoded", () => {
    const url = new URL(
      brokerUrls(load({ AMQP_USER: "al ice@corp", AMQP_PASSWORD: "p@ss:w/rd%?#" }))[0],
    );
    assert.equal(decodeURIComponent(url.username), "al ice@corp");
    assert.equal(decodeURIComponent(url.password), "p@ss:w/rd%?#");
    assert.equal(url.host, "localhost:5672");
  });

  await t.step("does not change the config's URL", () => {
    const config = load({ AMQP_URL: "amqp://rabbitmq:5672", AMQP_USER: "ml" });
    brokerUrls(config);
    assert.equal(config.amqpUrls[0].href, "amqp://rabbitmq:5672");
  });
});

Deno.test("redactUrl() hides the password and nothing else", async (t) => {
  const cases: [string, string][] = [
    ["amqp://ml:s3cret@rabbitmq:5672/v", "amqp://ml:***@rabbitmq:5672/v"],
    ["amqp://ml@rabbitmq:5672", "amqp://ml@rabbitmq:5672"],
    ["amqp://rabbitmq:5672", "amqp://rabbitmq:5672"],
    ["amqps://ml:p%40ss@broker:5671/?heartbeat=10", "amqps://ml:***@broker:5671/?heartbeat=10"],
  ];
  for (const [raw, expected] of cases) {
    await t.step(raw, () => {
      assert.equal(redactUrl(raw), expected);
      assert.equal(redactUrl(new URL(raw)), expected);
    });
  }
  await t.step("leaves the URL it was given alone", () => {
    const url = new URL("amqp://ml:s3cret@rabbitmq:5672");
    redactUrl(url);
    assert.equal(url.password, "s3cret");
  });
});

Deno.test("replicaName() prefers REPLICA, then HOSTNAME, then the service", async (t) => {
  const cases: [string, Record<string, string>, string][] = [
    ["REPLICA wins", { REPLICA: "model-a", HOSTNAME: "c0ffee" }, "model-a"],
    ["HOSTNAME when REPLICA is unset", { HOSTNAME: "c0ffee" }, "c0ffee"],
    ["HOSTNAME when REPLICA is blank", { REPLICA: "  ", HOSTNAME: "c0ffee" }, "c0ffee"],
    ["the service, stable across restarts, when neither is set", {}, "model"],
  ];
  for (const [name, values, expected] of cases) {
    await t.step(name, () => {
      assert.equal(replicaName(load(values), "model"), expected);
    });
  }
});

Deno.test("brokerAddress() is the host and port --allow-net must name", async (t) => {
  const cases: [string, string][] = [
    ["amqp://localhost", "localhost:5672"],
    ["amqp://guest:guest@localhost:5672/%2F", "localhost:5672"],
    ["amqps://broker.internal/prod", "broker.internal:5671"],
    ["amqp://rabbitmq:5673", "rabbitmq:5673"],
    ["amqp://[::1]:5672", "[::1]:5672"],
  ];
  for (const [url, address] of cases) {
    await t.step(url, () => assert.equal(brokerAddress(url), address));
  }
});

Deno.test("QUEUE_TYPE is quorum or classic; another value fails naming the variable and value", () => {
  assert.equal(load({ QUEUE_TYPE: "classic" }).queueType, "classic");
  assert.equal(load({ QUEUE_TYPE: " Quorum " }).queueType, "quorum");
  const [problem] = problems({ QUEUE_TYPE: "stream" });
  assert.match(problem, /QUEUE_TYPE/);
  assert.match(problem, /quorum, classic/);
  assert.match(problem, /"stream"/);
});
