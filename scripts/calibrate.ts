/**
 * `npm run gate:calibrate`: measures the relative gate. Starts Postgres, Redis (TLS + AUTH), two
 * service processes (baseline and candidate, each with its own fake LLM and proxies), then runs the
 * real `npm run gate -- --baseline` with real k6 many times per row: an identical candidate (how
 * often it fails: the false-failure rate) and each injected regression (how often it is caught).
 * Prints the table that docs/loadtests.md carries, with the date, the command and the load average.
 *
 *   npm run gate:calibrate                                  # 50 identical runs, 20 per regression
 *   npm run gate:calibrate -- --identical-runs 10 --runs 5 --rows identical,hit+40ms
 *   npm run gate:calibrate -- --keep DIR    # keeps each run's reports in DIR/<run id>/; the
 *                                           # close-to-the-limit table can be re-made from them
 *                                           # (scripts/calibrate/limits-cli.ts)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GATE_EXIT_CODES, type GateProfile } from '../lib/contract/gate';
import { GATE_PROFILE_SPECS } from '../lib/contract/gate-profiles';
import { HEADERS, ROUTES } from '../lib/contract/http';
import type { ComparisonResult } from '../loadtests/src/lib/compare/report';
import type { K6MetricSummary } from '../loadtests/src/lib/k6-summary';
import { limitRows, renderLimitTable } from './calibrate/limits';
import {
  CALIBRATION_ROWS,
  type CalibrationContext,
  median,
  type RowResult,
  renderCalibrationTable,
} from './calibrate/rows';
import { runGateChild } from './calibrate/run-gate';
import { locateK6 } from './gate/locate-k6';
import { ensureServiceBuilt } from './harness';
import { startPairStack } from './harness/pair-stack';

/** A realistic-shaped fake LLM: answers after 150–200 ms, and streams a token every 10 ms. */
const LLM = { latencyMs: 150, jitterMs: 50, tokenIntervalMs: 10 };
/** Share of smoke's pairs that reach the LLM: tail, follow-ups and fresh prompts (25 of 45). */
const MISS_SHARE = 0.55;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'identical-runs': { type: 'string', default: '50' },
      runs: { type: 'string', default: '20' },
      rows: { type: 'string' },
      profile: { type: 'string', default: 'smoke' },
      keep: { type: 'string' },
    },
    strict: true,
  });
  const identicalRuns = Number(values['identical-runs']);
  const runs = Number(values.runs);
  if (!(Number.isInteger(identicalRuns) && identicalRuns >= 1 && Number.isInteger(runs) && runs >= 1)) {
    console.error('calibrate: --identical-runs and --runs must be whole numbers >= 1');
    return GATE_EXIT_CODES.usage;
  }
  const wanted = values.rows?.split(',').map((s) => s.trim());
  const rows = CALIBRATION_ROWS.filter((r) => !wanted || wanted.includes(r.id));
  if (wanted && rows.length !== wanted.length) {
    console.error(`calibrate: unknown row in --rows; rows are ${CALIBRATION_ROWS.map((r) => r.id).join(', ')}`);
    return GATE_EXIT_CODES.usage;
  }
  const k6 = locateK6(process.env);
  if (!k6.found) {
    console.error(`calibrate: ${k6.message}`);
    return GATE_EXIT_CODES.k6NotFound;
  }

  const started = new Date();
  const loadBefore = loadavg();
  const work = mkdtempSync(path.join(tmpdir(), 'gate-calibrate-'));
  const keep = values.keep ? path.resolve(values.keep) : undefined;
  if (keep) mkdirSync(keep, { recursive: true });
  const stack = await startPairStack({ llm: LLM, bundle: await ensureServiceBuilt() });
  try {
    const ctx: CalibrationContext = {
      stack,
      baselineHitMs: await measureHitMs(stack.baseline.url),
      baselineTokensPerCall: await measureTokensPerCall(stack.baseline.url),
      llm: LLM,
      missShare: MISS_SHARE,
    };
    const results: RowResult[] = [];
    /** The identical candidate's k6 metrics, run by run: the spread for "close to the limit". */
    const identicalMetrics: Record<string, K6MetricSummary>[] = [];
    for (const row of rows) {
      stack.resetCandidate();
      const injected = row.inject(ctx);
      const n = row.identical ? identicalRuns : runs;
      const result = {
        row,
        injected,
        runs: n,
        failures: 0,
        errors: 0,
        caughtBy: {} as Record<string, number>,
        verdictSeconds: [] as number[],
      };
      for (let i = 1; i <= n; i++) {
        const runId = `cal-${row.id.replace(/[^A-Za-z0-9_-]/g, '')}-${started.getTime().toString(36)}-${i}`;
        const run = await runGateChild({
          args: [
            '--target',
            stack.candidate.url,
            '--baseline',
            stack.baseline.url,
            '--profile',
            values.profile as string,
            '--expected-version',
            stack.candidate.version,
            '--run-id',
            runId,
          ],
          outDir: keep ? path.join(keep, runId) : mkdtempSync(path.join(work, 'out-')),
          k6Path: k6.path,
          home: work,
        });
        if (run.code === GATE_EXIT_CODES.thresholdsFailed) result.failures++;
        else if (run.code !== GATE_EXIT_CODES.pass) result.errors++;
        for (const c of run.report?.comparisons ?? [])
          if (!c.ok) result.caughtBy[c.id] = (result.caughtBy[c.id] ?? 0) + 1;
        if (run.report) result.verdictSeconds.push(run.report.durationSeconds);
        if (row.identical && run.metrics) identicalMetrics.push({ ...run.metrics });
        const failedFixed = (run.report?.thresholds ?? []).filter((t) => !t.ok && t.role !== 'comparison').length;
        console.log(
          `calibrate: ${row.id} run ${i}/${n}: exit ${run.code}${failedFixed ? ` (${failedFixed} fixed thresholds failed)` : ''}; comparisons failed: ${
            (run.report?.comparisons ?? [])
              .filter((c) => !c.ok)
              .map((c) => c.id)
              .join(', ') || 'none'
          }; ${run.report?.durationSeconds ?? '?'} s${watched(run.report?.comparisons, row.expectedComparison)}`,
        );
        if (run.code !== 0 && run.code !== 99) console.log(run.stdout.slice(-1500), run.stderr.slice(-1500));
      }
      results.push(result);
      stack.resetCandidate();
      // The row so far, so a long calibration that is stopped still leaves its finished rows.
      console.log(`calibrate: row done: ${renderCalibrationTable([result]).split('\n')[2]}`);
    }
    const loadAfter = loadavg();
    const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
    const command = `npm run gate:calibrate -- ${process.argv.slice(2).join(' ')}`.trim();
    console.log('');
    console.log(`Calibration of the relative gate (${values.profile}), ${started.toISOString().slice(0, 16)}Z`);
    console.log(`command: ${command}`);
    console.log(
      `machine: ${execFileSync('nproc').toString().trim()} cores; load average (1/5/15 min) before ${fmt(loadBefore)}, after ${fmt(loadAfter)}`,
    );
    console.log(
      `fake LLM: ${LLM.latencyMs} ms + up to ${LLM.jitterMs} ms, a streamed token every ${LLM.tokenIntervalMs} ms; baseline hit median ${ctx.baselineHitMs.toFixed(1)} ms; baseline tokens per call (a first turn) ${ctx.baselineTokensPerCall}`,
    );
    console.log('');
    console.log(renderCalibrationTable(results));
    const all = results.flatMap((r) => r.verdictSeconds);
    console.log('');
    console.log(`median time to verdict over all runs: ${median(all)?.toFixed(1) ?? 'n/a'} s`);
    if (identicalMetrics.length > 0) {
      const profile = values.profile as string;
      // An unknown profile never gets here: the gate wrapper refused every run (exit 64).
      const rows = limitRows(GATE_PROFILE_SPECS[profile as GateProfile], identicalMetrics);
      console.log('');
      console.log(`Close to the limit (${identicalMetrics.length} identical runs):`);
      console.log('');
      console.log(renderLimitTable(rows));
    }
    return 0;
  } finally {
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The figures of the comparison a row is meant to trip (or the tail's, for the identical row). */
function watched(comparisons: readonly ComparisonResult[] | null | undefined, id: string | undefined): string {
  const c = comparisons?.find((x) => x.id === (id ?? 'tail_latency'));
  if (!c) return '';
  return `; ${c.id}: ${c.pairs} pairs, ${c.worsePairs} worse, difference ${c.difference ?? 'n/a'}, detectable ${c.detectable ?? 'n/a'}`;
}

/** The baseline's median cache-hit latency: one question asked 21 times (the first is the miss). */
async function measureHitMs(url: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t = performance.now();
    const res = await fetch(`${url}${ROUTES.chat}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'calibration: how fast is a cache hit?' }),
    });
    await res.text();
    if (i > 0 && res.headers.get(HEADERS.cache) === 'HIT') times.push(performance.now() - t);
  }
  return median(times) ?? 1;
}

/** The LLM tokens (input + output) of one first-turn miss on the baseline, from its `usage`. */
async function measureTokensPerCall(url: string): Promise<number> {
  const res = await fetch(`${url}${ROUTES.chat}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: `calibration: what does a call cost? ${Date.now()}` }),
  });
  const body = (await res.json()) as { usage?: { input_tokens: number; output_tokens: number } };
  return (body.usage?.input_tokens ?? 0) + (body.usage?.output_tokens ?? 0);
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`calibrate: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(GATE_EXIT_CODES.wrapperError);
  },
);
