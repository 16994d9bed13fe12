/**
 * One-sided confidence sequences for a mean: bounds that hold at every sample size at once, so a
 * controller may look after every pair, on every tick, and stop at the first look that decides,
 * without inflating its error rate.
 *
 * The boundary is the one-sided normal mixture of Howard, Ramdas, McAuliffe and Sekhon,
 * "Time-uniform, nonparametric, nonasymptotic confidence sequences" (Annals of Statistics, 2021):
 * with S_n the centred sum and V_n = n (the sum standardised by the standard deviation), mixing
 * exp(λS − λ²V/2) over a half-normal λ ≥ 0 of precision ρ gives the supermartingale
 *
 *   M_n = 2·sqrt(ρ / (V + ρ))·exp(x²/2)·Φ(x),  x = S / sqrt(V + ρ),
 *
 * and Ville's inequality bounds P(∃n: M_n ≥ 1/α) by α. So the mean lies above
 * mean_n − σ·x_n·sqrt(n + ρ)/n at every n at once with probability 1 − α, where x_n solves
 * M_n = 1/α. The standard deviation σ is the sample one, plugged in: the asymptotic confidence
 * sequences of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas ("Time-uniform central limit
 * theory and asymptotic confidence sequences", 2024) justify that for i.i.d. data with a finite
 * variance, and a minimum sample size before the first look keeps the variance estimate honest.
 *
 * ρ sets where the bound is tightest; {@linkcode mixturePrecision} tunes it to a sample size.
 *
 * @module
 */

/**
 * Φ, the standard normal distribution function. Uses the complementary error function of
 * Numerical Recipes (`erfcc`), relative error below 1.2e-7 everywhere, plenty for a boundary.
 */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(
    -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                  t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                                  t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

function normalDensity(x: number): number {
  return Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
}

/**
 * The mixture precision ρ (in units of the variance, like V = n) that makes the bound tightest
 * near `pairs` samples: the choice of Waudby-Smith et al.,
 * ρ = n / (2·log(1/α) + log(1 + 2·log(1/α))), with α doubled for one side, the half-normal
 * mixture's threshold being close to the two-sided normal mixture's at 2α.
 */
export function mixturePrecision(pairs: number, alpha: number): number {
  const l = 2 * Math.log(1 / Math.min(0.5, 2 * alpha));
  return pairs / (l + Math.log(1 + l));
}

/**
 * The half-width, in standard deviations, of a one-sided level-`alpha` confidence sequence for a
 * mean after `pairs` samples: the mean is above mean_n − σ·radius (or below mean_n + σ·radius)
 * at every n at once with probability at least 1 − alpha.
 *
 * @throws {RangeError} when `alpha` is not in (0, 0.5), `pairs` is below 1 or `precision` is
 * not positive.
 */
export function confidenceRadius(pairs: number, alpha: number, precision: number): number {
  if (!(alpha > 0 && alpha < 0.5)) {
    throw new RangeError(
      `Cannot compute confidence radius as 'alpha' must be in (0, 0.5): current value is ${alpha}`,
    );
  }
  if (!(pairs >= 1) || !(precision > 0)) {
    throw new RangeError(
      `Cannot compute confidence radius as 'pairs' must be at least 1 and 'precision' positive: current values are ${pairs} and ${precision}`,
    );
  }
  const v = pairs + precision;
  // Solve x²/2 + log Φ(x) = log(1/(2α)) + log(v/ρ)/2; the left side is convex and increasing
  // for x > 0, so Newton's method from the root of x²/2 = c converges from above after one step.
  const c = Math.log(1 / (2 * alpha)) + Math.log(v / precision) / 2;
  let x = Math.sqrt(2 * c);
  for (let i = 0; i < 50; i++) {
    const cdf = normalCdf(x);
    const g = x * x / 2 + Math.log(cdf) - c;
    const step = g / (x + normalDensity(x) / cdf);
    x -= step;
    if (Math.abs(step) < 1e-12) break;
  }
  return x * Math.sqrt(v) / pairs;
}
