/**
 * A square wave of load for scaling experiments (`SQUARE_WAVE=60/90000/600000`): features sends
 * at the wave's rate for its high phase, then at its usual pace (INTERVAL_MS or RATE_PER_SEC)
 * for its low phase, and again; it starts high, so a service update that turns the wave on is a
 * step of load. Pure: the pacer asks for the interval at a given time.
 *
 * @module
 */

/** The two levels of the wave and how long each lasts. */
export interface SquareWave {
  readonly highIntervalMs: number;
  readonly lowIntervalMs: number;
  readonly highMs: number;
  readonly lowMs: number;
}

/** What `SQUARE_WAVE` says: the high rate and the two lengths. */
export interface WaveSetting {
  readonly ratePerSec: number;
  readonly highMs: number;
  readonly lowMs: number;
}

/** Where the wave is at one moment. */
export interface WavePhase {
  readonly level: "high" | "low";
  /** Counts the phases since the start: 0 is the first high one. */
  readonly index: number;
  readonly intervalMs: number;
  /** How long the phase lasts. */
  readonly lengthMs: number;
}

/**
 * Reads `rate/highMs/lowMs` (`60/90000/600000`); empty is no wave. Throws a `SyntaxError` that
 * says what is expected.
 */
export function parseSquareWave(text: string): WaveSetting | undefined {
  if (text.trim() === "") return undefined;
  const match = /^(\d+(?:\.\d+)?)\/(\d+)\/(\d+)$/.exec(text.trim());
  const [rate, high, low] = match ? match.slice(1).map(Number) : [];
  if (!match || !(rate > 0 && rate <= 100_000 && high > 0 && low > 0)) {
    throw new SyntaxError(
      "must be rate/highMs/lowMs with a rate above 0 and up to 100000 and both lengths above 0, " +
        `like 60/90000/600000: current value is ${JSON.stringify(text)}`,
    );
  }
  return { ratePerSec: rate, highMs: high, lowMs: low };
}

/** The wave of `setting` around the usual pace, or undefined when there is none. */
export function squareWaveOf(
  setting: WaveSetting | undefined,
  lowIntervalMs: number,
): SquareWave | undefined {
  if (!setting) return undefined;
  return {
    highIntervalMs: 1000 / setting.ratePerSec,
    lowIntervalMs,
    highMs: setting.highMs,
    lowMs: setting.lowMs,
  };
}

/** The phase of `wave` at `elapsedMs` since sending started. */
export function wavePhase(wave: SquareWave, elapsedMs: number): WavePhase {
  const period = wave.highMs + wave.lowMs;
  const at = Math.max(0, elapsedMs);
  const cycle = Math.floor(at / period);
  return at - cycle * period < wave.highMs
    ? { level: "high", index: 2 * cycle, intervalMs: wave.highIntervalMs, lengthMs: wave.highMs }
    : { level: "low", index: 2 * cycle + 1, intervalMs: wave.lowIntervalMs, lengthMs: wave.lowMs };
}

/**
 * The pacer's interval as a function of the time since sending started, calling `onPhase` once
 * as each phase begins (features logs it: the e2e times the steps of load from that line).
 */
export function waveSchedule(
  wave: SquareWave,
  onPhase: (phase: WavePhase) => void,
): (elapsedMs: number) => number {
  let last = -1;
  return (elapsedMs) => {
    const phase = wavePhase(wave, elapsedMs);
    if (phase.index !== last) {
      last = phase.index;
      onPhase(phase);
    }
    return phase.intervalMs;
  };
}
