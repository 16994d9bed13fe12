/**
 * The bench's runs of their own, each instead of the bench and written beside it rather than into
 * docs/benchmarks.md: `--tls` (what TLS costs a broker hop, `tls_cost.ts`) and `--rollout` (what a
 * candidate in shadow costs the pipeline, `rollout_cost.ts`).
 *
 * @module
 */
import { startLocalBroker } from "../ops/kit/local_broker.ts";
import { pipelineFigures } from "./figures.ts";
import { describeMachine } from "./machine.ts";
import { type benchPlan, LATENCY_RATE } from "./options.ts";
import { machineLine, ROOT, say, writeRunOfItsOwn } from "./output.ts";
import {
  measureRolloutCost,
  ROLLOUT_COST_SIZES,
  rolloutCostReport,
  summarizeRolloutCost,
} from "./rollout_cost.ts";
import { type Bench, quiet } from "./rounds.ts";
import { measureTlsCost, summarizeTlsCost, TLS_SIZES, tlsCostReport } from "./tls_cost.ts";

/**
 * `--tls`: one throwaway broker listening in clear and over TLS with certificates made by the
 * stack's own script, the two compared round by round; tls.md and tls.json in `outDir`.
 */
export async function benchTls(
  outDir: string,
  plan: ReturnType<typeof benchPlan>,
): Promise<number> {
  const certs = await Deno.makeTempDir({ prefix: "bench-tls-certs-" });
  const made = await new Deno.Command("bash", {
    args: [`${ROOT}/ops/secrets/tls.sh`, certs],
    stdout: "null",
  }).output();
  if (!made.success) {
    throw new Error(`ops/secrets/tls.sh failed: ${new TextDecoder().decode(made.stderr)}`);
  }
  // The node runs as the rabbitmq user, which must read the certificate and its key.
  if (Deno.uid() === 0) {
    await new Deno.Command("chown", { args: ["-R", "rabbitmq", certs] }).output();
  }
  await Deno.chmod(certs, 0o755);
  say("starting a throwaway RabbitMQ, in clear and over TLS");
  const broker = await startLocalBroker({
    tls: {
      certFile: `${certs}/broker_tls_cert.pem`,
      keyFile: `${certs}/broker_tls_key.pem`,
      caFile: `${certs}/broker_ca.pem`,
    },
  });
  try {
    const machine = await describeMachine(broker.url);
    const sizes = plan.quick ? { ceiling: 5_000, latency: 5_000, warmup: 500 } : TLS_SIZES;
    const rounds = await measureTlsCost({
      urls: { clear: broker.url, tls: `amqps://guest:guest@localhost:${broker.tlsPort}` },
      ca: await Deno.readTextFile(`${certs}/broker_ca.pem`),
      rounds: plan.runs,
      sizes,
      quiet: () => quiet({ plan, say }),
      say,
    });
    const figures = summarizeTlsCost(sizes, rounds);
    await writeRunOfItsOwn(outDir, "tls", figures, tlsCostReport(figures, machineLine(machine)));
    return 0;
  } finally {
    await broker.stop();
    await Deno.remove(certs, { recursive: true }).catch(() => {});
  }
}

/**
 * `--rollout`: the pipeline at full load without and with a candidate in shadow, round by round,
 * on the bench's broker; rollout.md and rollout.json in `outDir`.
 */
export async function benchRollout(
  outDir: string,
  plan: ReturnType<typeof benchPlan>,
  run: { url: string; pipeline: Bench["pipeline"] },
): Promise<number> {
  const machine = await describeMachine(run.url);
  const sizes = plan.quick
    ? { samples: 3_000, ratePerSecond: LATENCY_RATE, warmup: 500 }
    : { ...ROLLOUT_COST_SIZES, ratePerSecond: LATENCY_RATE };
  const rounds = await measureRolloutCost({
    rounds: plan.runs,
    sizes,
    pipeline: async (count, settings, warmup) =>
      pipelineFigures(await run.pipeline(count, settings), warmup),
    quiet: () => quiet({ plan, say }),
    say,
  });
  const figures = summarizeRolloutCost(sizes, rounds);
  await writeRunOfItsOwn(
    outDir,
    "rollout",
    figures,
    rolloutCostReport(figures, machineLine(machine)),
  );
  return 0;
}
