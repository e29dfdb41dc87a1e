/**
 * The relative gate's statistics against published values, and the false-failure rate of its
 * sign-test boundary on synthetic samples: identical distributions fail at most at the designed
 * rate, known shifts are detected.
 */
import {
  binomialCdf,
  boundaryCount,
  designSignBoundary,
  medianLowerBoundRank,
  newcombeInterval,
  normalQuantile,
  signTestPValue,
  wilsonInterval,
} from '../../loadtests/src/lib/compare/stats';
import { seededRandom } from '../../loadtests/src/lib/corpus';

describe('published values', () => {
  test('normal quantiles match the standard table to 1e-8', () => {
    // Abramowitz & Stegun, table 26.5 (and any z table): z(0.975), z(0.995), z(0.999), z(0.01).
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963985, 8);
    expect(normalQuantile(0.995)).toBeCloseTo(2.575829304, 8);
    expect(normalQuantile(0.999)).toBeCloseTo(3.090232306, 8);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326347874, 8);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
  });

  test('binomial CDF matches the cumulative binomial table', () => {
    // Cumulative binomial tables (e.g. CRC Standard Probability and Statistics Tables).
    expect(binomialCdf(5, 20, 0.5)).toBeCloseTo(0.0207, 4);
    expect(binomialCdf(2, 10, 0.3)).toBeCloseTo(0.3828, 4);
    expect(binomialCdf(14, 20, 0.5)).toBeCloseTo(0.9793, 4);
    expect(binomialCdf(0, 5, 0.5)).toBeCloseTo(1 / 32, 12);
  });

  test('sign test p-values: 17 of 20 and 9 of 9', () => {
    expect(signTestPValue(17, 20)).toBeCloseTo(1351 / 1048576, 12);
    expect(signTestPValue(9, 9)).toBeCloseTo(1 / 512, 12);
  });

  test('the distribution-free 95% interval of a median of 20 uses the 6th order statistic', () => {
    // Conover, Practical Nonparametric Statistics, Table A3: n = 20, alpha = 0.025 one-sided → r = 6.
    expect(medianLowerBoundRank(20, 0.025)).toBe(6);
    expect(medianLowerBoundRank(5, 0.025)).toBe(0); // too few for any bound
  });

  test("Newcombe's method 10 reproduces his worked example 56/70 − 48/80", () => {
    // Newcombe (1998), Statistics in Medicine 17:873-890, Table II, example (a): 0.0524 to 0.3339.
    const ci = newcombeInterval(56, 70, 48, 80, 0.025);
    expect(ci.low).toBeCloseTo(0.0524, 4);
    expect(ci.high).toBeCloseTo(0.3339, 4);
    // Wilson interval for 0 of 10 (Newcombe 1998, Table I): 0 to 0.2775.
    expect(wilsonInterval(0, 10, 0.025).high).toBeCloseTo(0.2775, 4);
  });
});

describe('the sign-test boundary that k6 judges as one Rate threshold', () => {
  const alpha = 0.002;

  test.each([20, 45, 100])('holds alpha for every trial count up to the maximum (planned %i)', (planned) => {
    const maxTrials = Math.max(200, 2 * planned);
    const b = designSignBoundary({ alpha, maxTrials, optimiseAtTrials: planned });
    expect(b.maxRate).toBeGreaterThan(0.5);
    for (let m = 1; m <= maxTrials; m++) {
      const k = boundaryCount(b, m);
      expect(k > m ? 0 : signTestPValue(k, m)).toBeLessThanOrEqual(alpha);
    }
  });

  test('loses at most one success against the exact sign test at the planned count', () => {
    const b = designSignBoundary({ alpha, maxTrials: 200, optimiseAtTrials: 20 });
    // Exact one-sided sign test at 0.002 with 20 trials needs 17 (P(X >= 17) = 0.0013).
    expect(b.neededAtPlanned).toBeLessThanOrEqual(18);
    expect(b.neededAtPlanned).toBeGreaterThanOrEqual(17);
  });

  test('with no failures on the other side it needs what exact McNemar needs: 9 at alpha 0.002', () => {
    const b = designSignBoundary({ alpha, maxTrials: 200 });
    expect(b.neededAtPlanned).toBe(9);
  });

  const simulate = (shift: number, runs: number, seed: string) => {
    const rng = seededRandom(seed);
    const b = designSignBoundary({ alpha, maxTrials: 200, optimiseAtTrials: 20 });
    const limit = 5;
    let failures = 0;
    for (let r = 0; r < runs; r++) {
      let above = 0;
      const n = 20;
      for (let i = 0; i < n; i++) {
        // Paired differences of two noisy latencies (exponential tails, like request times).
        const base = 10 - 4 * Math.log(1 - rng());
        const cand = 10 - 4 * Math.log(1 - rng()) + shift;
        if (cand - base > limit) above++;
      }
      if (above >= boundaryCount(b, n)) failures++;
    }
    return failures / runs;
  };

  test('identical distributions fail at most at the designed rate (20 000 synthetic runs)', () => {
    expect(simulate(0, 20_000, 'identical')).toBeLessThanOrEqual(alpha);
  });

  test('a shift of four times the limit is detected in at least 95% of runs', () => {
    expect(simulate(20, 2_000, 'shifted')).toBeGreaterThanOrEqual(0.95);
  });
});
