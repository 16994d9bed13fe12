/**
 * The metric dashboard in a real headless Chromium (Debian's `chromium`,
 * driven by puppeteer-core) against a running pipeline: throwaway
 * RabbitMQ, metric, two model replicas and features as subprocesses with
 * their real permission flags. Checks that the page renders, that the
 * histogram count it shows grows as samples arrive, that it loads nothing
 * from elsewhere, and saves a screenshot to `tests/artifacts/dashboard.png`.
 *
 * puppeteer-core rather than playwright-core: playwright-core stats
 * `/proc/sys/fs/binfmt_misc/WSLInterop` when it loads, and Deno grants that
 * path only under `--allow-all`, which `deno task test:integration` does not
 * give.
 *
 * Self-contained on purpose (no shared harness): it owns its broker, ports,
 * log directory and browser profile, and cleans them up in `finally`.
 */
import assert from "node:assert/strict";
import puppeteer, { type Browser } from "puppeteer-core";
import { freePort, type LocalBroker, startLocalBroker } from "../ops/kit/local_broker.ts";
import type { ServiceName } from "../ops/launch.ts";
import { PNG_FILE, pngSize } from "../metric/dashboard/png.ts";
import {
  type ServiceProcess,
  spawnService,
  stopAll,
  waitFor,
  waitReady,
} from "../ops/kit/process.ts";

const ROOT = new URL("../", import.meta.url);
const ARTIFACTS = new URL("artifacts/", import.meta.url);
const CHROMIUM = "/usr/bin/chromium";
const COUNT = 60;
const MODEL_REPLICAS = ["model-a", "model-b"];

function spawn(
  service: ServiceName,
  options: { brokerPort: number; httpPort: number; logDir: string; env?: Record<string, string> },
): ServiceProcess {
  return spawnService(service, {
    broker: `localhost:${options.brokerPort}`,
    httpPort: options.httpPort,
    paths: { logDir: options.logDir },
  }, {
    name: options.env?.REPLICA ?? service,
    cwd: ROOT,
    env: {
      AMQP_URL: `amqp://guest:guest@localhost:${options.brokerPort}`,
      HTTP_PORT: String(options.httpPort),
      LOG_DIR: options.logDir,
      SHUTDOWN_TIMEOUT_MS: "5000",
      ...options.env,
    },
  });
}

function explain(running: readonly ServiceProcess[]): string {
  return running.map((r) => `--- ${r.name} ---\n${r.lines.join("\n").slice(-4000)}`).join("\n");
}

Deno.test({
  name: "the dashboard shows the histogram filling up as samples arrive",
  // Subprocesses, pipes and the browser outlive single awaits by design here.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Fail loudly rather than skip: a skipped browser test hides a missing install step.
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    const logDir = await Deno.makeTempDir({ prefix: "ml-browser-logs-" });
    const profile = await Deno.makeTempDir({ prefix: "ml-browser-profile-" });
    const running: ServiceProcess[] = [];
    let broker: LocalBroker | undefined;
    let browser: Browser | undefined;
    try {
      broker = await startLocalBroker();
      const brokerPort = broker.port;
      const httpPort = freePort();
      const base = `http://127.0.0.1:${httpPort}`;
      const metric = spawn("metric", {
        brokerPort,
        httpPort,
        logDir,
        env: { REPLICA: "metric-1", PLOT_EVERY_MS: "1000" },
      });
      running.push(metric);
      for (const replica of MODEL_REPLICAS) {
        running.push(
          spawn("model", { brokerPort, httpPort: 0, logDir, env: { REPLICA: replica } }),
        );
      }
      await waitReady(metric);

      browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        userDataDir: profile,
        defaultViewport: { width: 1280, height: 900 },
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
      const page = await browser.newPage();
      const problems: string[] = [];
      const elsewhere: string[] = [];
      page.on(
        "pageerror",
        (error) => problems.push(`page error: ${(error as Error).message ?? error}`),
      );
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      page.on("request", (request) => {
        const url = request.url();
        if (!url.startsWith(`${base}/`) && !url.startsWith("data:")) elsewhere.push(url);
      });

      const text = (selector: string) => page.$eval(selector, (element) => element.textContent);
      const response = await page.goto(`${base}/`);
      assert.equal(response?.status(), 200);
      assert.equal(await page.title(), "ML pipeline · metric dashboard");
      // uPlot is served by the service and has drawn its canvases.
      assert.equal(await page.evaluate("typeof uPlot"), "function");
      await waitFor(
        "the first poll to render",
        async () => (await text("#count")) === "0",
      );
      assert.equal((await page.$$(".uplot canvas")).length, 5, "five charts");

      const shown = async () => Number(await text("#histogram-count"));
      const seen = new Set<number>();
      running.push(spawn("features", {
        brokerPort,
        httpPort: 0,
        logDir,
        env: { COUNT: String(COUNT), INTERVAL_MS: "100", SEED: "11", REPLICA: "features-1" },
      }));
      await waitFor(
        `the page to show ${COUNT} samples`,
        async () => {
          const n = await shown();
          if (n > 0) seen.add(n);
          return n === COUNT;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      // At ten samples a second and a poll a second, the count must have been seen climbing.
      const counts = [...seen].sort((a, b) => a - b);
      assert.ok(counts.length >= 3, `histogram count seen only as ${counts.join(", ")}`);
      assert.equal(await text("#count"), String(COUNT));
      assert.match((await text("#mae"))!, /^\d+\.\d\d$/);
      assert.match((await text("#median"))!, /^\d+\.\d\d$/);
      assert.equal(await text("#unpaired"), "0");
      assert.equal(await text("#dead-lettered"), "0");
      // "Where the time goes": a row per hop, each with every sample counted.
      const hopRows = await page.$$eval(
        "#hops tbody tr",
        (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent)),
      );
      assert.deepEqual(hopRows.map((cells) => cells[0]), [
        "features publish → model receipt",
        "model handling",
        "model publish → metric pairing",
        "metric write + ack",
      ]);
      for (const cells of hopRows) {
        assert.equal(cells.at(-1), String(COUNT), cells[0]!);
        assert.match(cells[1]!, /^\d+\.\d\d$/, `${cells[0]} mean`);
      }
      assert.match((await text("#status"))!, /^live/);

      // The page's JSON names both model replicas: each gets its own bar.
      const stats = await page.evaluate(() => fetch("api/stats").then((r) => r.json()));
      assert.deepEqual(stats.replicas.map((r: { name: string }) => r.name), MODEL_REPLICAS);
      assert.equal(stats.histogram.counts.reduce((a: number, b: number) => a + b, 0), COUNT);
      assert.ok(stats.series.t.length >= 2);

      // A second poll after the last sample so the rate and the time series have caught up.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      const screenshot = new URL("dashboard.png", ARTIFACTS);
      await page.screenshot({ path: screenshot.pathname as `${string}.png`, fullPage: true });
      assert.ok((await Deno.stat(screenshot)).size > 10_000, "screenshot is not blank");

      assert.deepEqual(problems, []);
      assert.deepEqual(elsewhere, [], "the page reached beyond the metric service");

      // The periodic plot landed beside metric_log.csv.
      await waitFor("error_distribution.svg with every sample", async () => {
        const svg = await Deno.readTextFile(`${logDir}/error_distribution.svg`);
        return svg.includes(`n = ${COUNT}`);
      }, { timeoutMs: 10_000 });
      // Only the SVG: no PNG is rendered on a timer.
      assert.ok(!existsSync(`${logDir}/${PNG_FILE}`), "a PNG was written without a request");
      // The PNG comes from the page's link, rendered on request within metric's real permissions.
      const href = await page.$eval(`footer a[href="${PNG_FILE}"]`, (a) => a.getAttribute("href"));
      const reply = await fetch(new URL(href!, `${base}/`));
      const png = await reply.bytes();
      assert.equal(reply.status, 200, new TextDecoder().decode(png));
      assert.equal(reply.headers.get("content-type"), "image/png");
      assert.deepEqual(pngSize(png), { width: 720, height: 400 });
      await Deno.writeFile(new URL(PNG_FILE, ARTIFACTS), png);
      assert.ok(
        !metric.lines.some((line) => line.includes("cannot render")),
        "metric could not render the PNG",
      );
    } catch (error) {
      console.error(explain(running));
      throw error;
    } finally {
      await browser?.close().catch(() => {});
      await stopAll(running);
      await broker?.stop();
      await Deno.remove(logDir, { recursive: true }).catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
