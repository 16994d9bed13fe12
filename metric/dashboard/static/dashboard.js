// The metric dashboard: polls /api/stats once a second and redraws with uPlot
// (served by the metric service itself from metric/dashboard/static/vendor/, no CDN).
// Polling rather than Server-Sent Events: an open event stream would hold the
// service's graceful HTTP shutdown until the browser tab closes.
"use strict";

(() => {
  const POLL_MS = 1000;
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const COLORS = {
    bar: color("--bar") || "#4c78a8",
    mae: color("--mae") || "#d62728",
    median: color("--median") || "#2ca02c",
    recent: "#ff7f0e",
  };
  const $ = (id) => document.getElementById(id);

  /** Formats a number for a tile; `null` (no value yet) shows as a dash. */
  function fmt(value, digits = 1) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  function chartSize(element) {
    return { width: Math.max(240, element.clientWidth), height: 220 };
  }

  /** Draws a dashed vertical line at `value` on the x axis with a label at the top. */
  function verticalMark(u, value, stroke, dash, label, row) {
    if (value === null || value === undefined) return;
    const x = u.valToPos(value, "x", true);
    if (!(x >= u.bbox.left && x <= u.bbox.left + u.bbox.width)) return;
    const ctx = u.ctx;
    const ratio = devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = stroke;
    ctx.lineWidth = 2 * ratio;
    ctx.setLineDash(dash.map((d) => d * ratio));
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    // Labels go right of their line, on a white halo so bars and grid stay out of the way.
    ctx.setLineDash([]);
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.font = `${12 * ratio}px system-ui, sans-serif`;
    const y = u.bbox.top + (12 + row * 14) * ratio;
    ctx.lineWidth = 3 * ratio;
    ctx.strokeStyle = "#fff";
    ctx.strokeText(label, x + 4 * ratio, y);
    ctx.fillStyle = stroke;
    ctx.fillText(label, x + 4 * ratio, y);
    ctx.restore();
  }

  /** Writes each bar's value above it (categorical bar charts). */
  function barLabels(u, digits) {
    const [xs, ys] = u.data;
    const ctx = u.ctx;
    const ratio = devicePixelRatio || 1;
    ctx.save();
    ctx.fillStyle = "#222";
    ctx.textAlign = "center";
    ctx.font = `${11 * ratio}px system-ui, sans-serif`;
    for (let i = 0; i < xs.length; i++) {
      if (ys[i] === null || ys[i] === undefined) continue;
      const x = u.valToPos(xs[i], "x", true);
      const y = u.valToPos(ys[i], "y", true);
      ctx.fillText(Number(ys[i]).toFixed(digits), x, y - 4 * ratio);
    }
    ctx.restore();
  }

  const zeroBased = (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1];

  // --- the charts -----------------------------------------------------------

  let latest = null;

  const histogramEl = $("histogram");
  const histogram = new uPlot(
    {
      ...chartSize(histogramEl),
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: {
          time: false,
          range: (_u, _min, max) => [0, Math.max(latest?.histogram.width ?? 10, max + 5)],
        },
        y: { range: zeroBased },
      },
      axes: [{ label: "absolute error" }, { label: "samples" }],
      series: [
        {},
        {
          label: "samples",
          fill: COLORS.bar + "cc",
          stroke: COLORS.bar,
          paths: uPlot.paths.bars({ size: [0.92, Infinity], align: 0 }),
          points: { show: false },
        },
      ],
      hooks: {
        draw: [(u) => {
          if (!latest) return;
          verticalMark(u, latest.mae, COLORS.mae, [6, 4], `MAE ${fmt(latest.mae)}`, 0);
          verticalMark(u, latest.median, COLORS.median, [2, 3], `median ${fmt(latest.median)}`, 1);
        }],
      },
    },
    [[], []],
    histogramEl,
  );

  const maeEl = $("mae-over-time");
  const maeChart = new uPlot(
    {
      ...chartSize(maeEl),
      // A legend of names only: values under the cursor would read "--" most of the time.
      legend: { live: false },
      scales: { x: { time: true }, y: { range: zeroBased } },
      axes: [{}, { label: "MAE" }],
      series: [
        {},
        { label: "running MAE", stroke: COLORS.mae, width: 2 },
        { label: "last 10 s", stroke: COLORS.recent, width: 1, dash: [4, 3] },
      ],
    },
    [[], [], []],
    maeEl,
  );

  const throughputEl = $("throughput");
  const throughputChart = new uPlot(
    {
      ...chartSize(throughputEl),
      // A legend of names only: values under the cursor would read "--" most of the time.
      legend: { live: false },
      scales: { x: { time: true }, y: { range: zeroBased } },
      axes: [{}, { label: "samples / s" }],
      series: [{}, { label: "samples / s", stroke: COLORS.bar, width: 2 }],
    },
    [[], []],
    throughputEl,
  );

  /** A bar per category (replica, version); `names` is read at draw time as the list changes. */
  function categoryChart(element, label, digits, fill) {
    const state = { names: [] };
    const chart = new uPlot(
      {
        ...chartSize(element),
        legend: { show: false },
        cursor: { show: false },
        scales: {
          x: { time: false, range: () => [-0.5, Math.max(1, state.names.length) - 0.5] },
          y: { range: zeroBased },
        },
        axes: [
          {
            splits: () => state.names.map((_, i) => i),
            values: (_u, splits) => splits.map((i) => state.names[i] ?? ""),
          },
          { label },
        ],
        series: [
          {},
          {
            label,
            fill,
            stroke: fill,
            paths: uPlot.paths.bars({ size: [0.6, 90], align: 0 }),
            points: { show: false },
          },
        ],
        hooks: { draw: [(u) => barLabels(u, digits)] },
      },
      [[], []],
      element,
    );
    return {
      chart,
      update(names, values) {
        state.names = names;
        chart.setData([names.map((_, i) => i), values]);
      },
    };
  }

  const replicas = categoryChart($("replicas"), "samples / s", 1, COLORS.bar);
  const versions = categoryChart($("versions"), "MAE", 2, COLORS.mae);

  // --- where the time goes ---------------------------------------------------

  const HOP_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"];

  /** A bar split by each hop's mean time, and a row per hop with its quantiles. */
  function renderHops(hops) {
    const total = hops.reduce((sum, h) => sum + (h.meanMs ?? 0), 0);
    const bar = $("hop-bar");
    const body = $("hops").tBodies[0];
    bar.replaceChildren(...hops.map((h, i) => {
      const part = document.createElement("span");
      part.style.background = HOP_COLORS[i % HOP_COLORS.length];
      part.style.flexGrow = String(total > 0 ? (h.meanMs ?? 0) / total : 0);
      part.title = `${h.label}: ${fmt(h.meanMs, 2)} ms`;
      return part;
    }));
    body.replaceChildren(...hops.map((h, i) => {
      const row = document.createElement("tr");
      const name = document.createElement("td");
      const key = document.createElement("span");
      key.className = "key";
      key.style.background = HOP_COLORS[i % HOP_COLORS.length];
      name.append(key, h.label);
      row.append(name);
      for (const text of [fmt(h.meanMs, 2), fmt(h.p50Ms, 2), fmt(h.p99Ms, 2), String(h.count)]) {
        row.append(Object.assign(document.createElement("td"), { textContent: text }));
      }
      return row;
    }));
  }

  // --- updates ----------------------------------------------------------------

  function render(view) {
    latest = view;
    const h = view.histogram;
    const inHistogram = h.counts.reduce((sum, c) => sum + c, 0) + h.overflow;
    $("count").textContent = String(view.count);
    $("mae").textContent = fmt(view.mae, 2);
    $("median").textContent = fmt(view.median, 2);
    $("rmse").textContent = fmt(view.rmse, 2);
    $("rate").textContent = fmt(view.samplesPerSecond, 1);
    $("unpaired").textContent = String(view.unpaired);
    $("dead-lettered").textContent = String(view.deadLettered);
    $("histogram-caption").innerHTML = "";
    $("histogram-caption").append(
      "n = ",
      Object.assign(document.createElement("span"), {
        id: "histogram-count",
        textContent: String(inHistogram),
      }),
      ` in bins of ${h.width}` +
        (h.overflow > 0 ? `; ${h.overflow} at ${h.overflowFrom} or more (not drawn)` : ""),
    );
    $("replica-caption").textContent = `over the last ${view.windowSeconds} s`;

    // Empty bins as gaps: a zero-height bar would still draw its outline.
    histogram.setData([
      h.counts.map((_, k) => (k + 0.5) * h.width),
      h.counts.map((c) => (c === 0 ? null : c)),
    ]);
    const s = view.series;
    maeChart.setData([s.t, s.mae, s.recentMae]);
    throughputChart.setData([s.t, s.samplesPerSecond]);
    replicas.update(view.replicas.map((r) => r.name), view.replicas.map((r) => r.perSecond));
    versions.update(view.versions.map((v) => v.version), view.versions.map((v) => v.mae));
    renderHops(view.hops ?? []);
  }

  function setStatus(text, isError) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("error", isError);
  }

  async function poll() {
    try {
      const response = await fetch("api/stats", { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json());
      setStatus(`live · updated ${new Date().toLocaleTimeString()}`, false);
    } catch (error) {
      setStatus(`cannot reach the metric service (${error.message}); retrying`, true);
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  addEventListener("resize", () => {
    for (
      const [chart, element] of [
        [histogram, histogramEl],
        [maeChart, maeEl],
        [throughputChart, throughputEl],
        [replicas.chart, $("replicas")],
        [versions.chart, $("versions")],
      ]
    ) chart.setSize(chartSize(element));
  });

  poll();
})();
