/**
 * The statistics of the relative gate, small and pure so k6 (goja, no Node) runs the same code as
 * jest: the binomial distribution (sign test, McNemar's exact test, order-statistic intervals for a
 * median) and the normal quantile (Wilson/Newcombe intervals for a difference of proportions).
 *
 * Hand-written rather than a library: the gate needs four functions, and the candidates
 * (`jstat`, `simple-statistics`, `@stdlib/stats-base-dists-*`) either ship as UMD bundles that touch
 * globals k6 lacks, or pull dozens of modules into every k6 bundle for the same four formulas.
 * `test/loadtests/compare-stats.test.ts` checks each against published table values.
 */

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; |relative error| < 1e-13 over the range used here). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] as number;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X = k) for X ~ Binomial(n, p). */
export function binomialPmf(k: number, n: number, p: number): number {
  if (!Number.isInteger(k) || k < 0 || k > n) return 0;
  if (p <= 0) return k === 0 ? 1 : 0;
  if (p >= 1) return k === n ? 1 : 0;
  const logChoose = logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
  return Math.exp(logChoose + k * Math.log(p) + (n - k) * Math.log(1 - p));
}

/** P(X <= k) for X ~ Binomial(n, p). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  let sum = 0;
  for (let i = 0; i <= Math.floor(k); i++) sum += binomialPmf(i, n, p);
  return Math.min(1, sum);
}

/** P(X >= k) for X ~ Binomial(n, 1/2): the one-sided p-value of a sign test with k successes in n. */
export function signTestPValue(k: number, n: number): number {
  if (n <= 0) return 1;
  return Math.max(0, 1 - binomialCdf(k - 1, n, 0.5));
}

/** Standard normal quantile Φ⁻¹(p): Acklam's rational approximation, relative error < 1.15e-9. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return Number.NEGATIVE_INFINITY;
    if (p === 1) return Number.POSITIVE_INFINITY;
    return Number.NaN;
  }
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = poly(c, q) / (poly(d, q) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = (poly(a, r) * q) / (poly(b, r) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -poly(c, q) / (poly(d, q) * q + 1);
  }
  return x;
}

/** Horner's rule over coefficients highest power first. */
function poly(coefficients: readonly number[], x: number): number {
  let r = 0;
  for (const k of coefficients) r = r * x + k;
  return r;
}

/**
 * Distribution-free lower confidence bound of a median from n sorted observations: the k-th
 * smallest (1-based), with k the largest index such that P(Binomial(n, 1/2) <= k − 1) <= alpha.
 * 0 when n is too small for any bound at this alpha.
 */
export function medianLowerBoundRank(n: number, alpha: number): number {
  let k = 0;
  for (let j = 1; j <= n; j++) {
    if (binomialCdf(j - 1, n, 0.5) <= alpha) k = j;
    else break;
  }
  return k;
}

/** Wilson score interval for x successes in n at two-sided level 1 − 2·alphaOneSided. */
export function wilsonInterval(x: number, n: number, alphaOneSided: number): { low: number; high: number } {
  if (n <= 0) return { low: 0, high: 1 };
  const z = normalQuantile(1 - alphaOneSided);
  const p = x / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * Newcombe's hybrid score interval (his method 10) for p1 − p2 from two Wilson intervals: good
 * coverage at small counts and at 0 events, where the Wald interval fails.
 */
export function newcombeInterval(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  alphaOneSided: number,
): { low: number; high: number } {
  const p1 = n1 > 0 ? x1 / n1 : 0;
  const p2 = n2 > 0 ? x2 / n2 : 0;
  const w1 = wilsonInterval(x1, n1, alphaOneSided);
  const w2 = wilsonInterval(x2, n2, alphaOneSided);
  const d = p1 - p2;
  return {
    low: d - Math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2),
    high: d + Math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2),
  };
}

/**
 * A one-sided sign test whose number of trials is not known in advance, written as a single k6
 * Rate threshold. k6 judges `rate < maxRate` over the trials plus `pseudoTrials` zeros added in
 * setup(): it fails when successes >= maxRate · (trials + pseudoTrials), a linear boundary. The
 * boundary is chosen so that, for EVERY trial count m in 1..maxTrials, P(Binomial(m, 1/2) crosses
 * it) <= alpha: the false-failure rate holds whatever share of pairs turns out usable.
 */
export interface SignBoundary {
  readonly maxRate: number;
  readonly pseudoTrials: number;
  /** The largest P(crossing) over m in 1..maxTrials: the test's actual size, <= alpha. */
  readonly size: number;
  /** Successes needed to fail at the trial count the boundary was optimised for (or with no failures). */
  readonly neededAtPlanned: number;
}

/** Successes that cross the boundary when every trial is a success: b >= maxRate · (b + pseudo). */
export function neededAlone(b: Pick<SignBoundary, 'maxRate' | 'pseudoTrials'>): number {
  return Math.max(1, Math.ceil((b.maxRate * b.pseudoTrials) / (1 - b.maxRate) - 1e-9));
}

/** Successes that cross the boundary at m trials. */
export function boundaryCount(b: Pick<SignBoundary, 'maxRate' | 'pseudoTrials'>, m: number): number {
  // rate >= maxRate  <=>  successes >= maxRate · (m + pseudo); rounding guards against 0.75·4 = 2.9999.
  return Math.ceil(b.maxRate * (m + b.pseudoTrials) - 1e-9);
}

/** ln(n!) for n = 0..size−1, grown on demand (the boundary search calls the sign tail millions of times). */
const LOG_FACTORIAL: number[] = [0];
function logFactorial(n: number): number {
  for (let i = LOG_FACTORIAL.length; i <= n; i++) LOG_FACTORIAL.push((LOG_FACTORIAL[i - 1] as number) + Math.log(i));
  return LOG_FACTORIAL[n] as number;
}

/** P(X >= k) for X ~ Binomial(m, 1/2), k = 0..m+1, per m: the boundary search asks for the same ones many times. */
const SIGN_TAILS = new Map<number, Float64Array>();
function signTail(k: number, m: number): number {
  if (k <= 0) return 1;
  if (k > m) return 0;
  let table = SIGN_TAILS.get(m);
  if (!table) {
    table = new Float64Array(m + 2);
    const lf = logFactorial(m);
    const ln2m = m * Math.LN2;
    // Summed from the far tail, so small tail probabilities keep their precision.
    for (let i = m; i >= 0; i--) {
      table[i] = (table[i + 1] as number) + Math.exp(lf - logFactorial(i) - logFactorial(m - i) - ln2m);
    }
    SIGN_TAILS.set(m, table);
  }
  return Math.min(1, table[k] as number);
}

/**
 * The boundary (rate limit and pseudo-trials) with the fewest successes needed to fail at
 * `optimiseAtTrials`, valid (size <= alpha) for every trial count up to `maxTrials`. Trial counts
 * above `maxTrials` are covered by requiring maxRate >= 1/2 + z(alpha) / (2·sqrt(maxTrials)),
 * where the normal approximation of the binomial tail is already tight.
 */
export function designSignBoundary(options: {
  readonly alpha: number;
  readonly maxTrials: number;
  /** Optimise the successes needed at this many trials; absent: with no failures at all (m = successes). */
  readonly optimiseAtTrials?: number;
}): SignBoundary {
  const { alpha, maxTrials, optimiseAtTrials } = options;
  const floorRate = 0.5 + normalQuantile(1 - alpha) / (2 * Math.sqrt(maxTrials));
  const sizeOf = (candidate: { maxRate: number; pseudoTrials: number }): number => {
    let size = 0;
    for (let m = 1; m <= maxTrials; m++) {
      size = Math.max(size, signTail(boundaryCount(candidate, m), m));
      if (size > alpha) break;
    }
    return size;
  };
  let best: SignBoundary | undefined;
  for (let pseudo = 0; pseudo <= 24; pseudo++) {
    // Validity is monotone in maxRate (a higher rate needs more successes): bisect on a 0.005 grid.
    let lo = Math.max(1, Math.ceil((floorRate - 0.5) * 200));
    let hi = 99;
    if (sizeOf({ maxRate: 0.5 + hi / 200, pseudoTrials: pseudo }) > alpha) continue;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (sizeOf({ maxRate: 0.5 + mid / 200, pseudoTrials: pseudo }) <= alpha) hi = mid;
      else lo = mid + 1;
    }
    const candidate = { maxRate: 0.5 + hi / 200, pseudoTrials: pseudo };
    const needed = optimiseAtTrials === undefined ? neededAlone(candidate) : boundaryCount(candidate, optimiseAtTrials);
    if (!best || needed < best.neededAtPlanned) {
      best = { ...candidate, size: sizeOf(candidate), neededAtPlanned: needed };
    }
  }
  if (!best) throw new Error(`no sign-test boundary holds alpha=${alpha} up to ${maxTrials} trials`);
  return best;
}
