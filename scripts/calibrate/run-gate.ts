/**
 * Runs `npm run gate` (the real wrapper: bundle, k6, exit code passed through) as a child process
 * and reads its JSON report. Shared by the relative gate's end-to-end test and the calibration.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GATE_REPORT_FILES } from '../../lib/contract/gate';
import type { K6MetricSummary } from '../../loadtests/src/lib/k6-summary';
import type { GateReport } from '../../loadtests/src/lib/report';

export const REPO_DIR = path.resolve(__dirname, '..', '..');

export interface GateChildRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly outDir: string;
  /** Wall clock from start to exit, ms. */
  readonly wallMs: number;
  /** The gate's report (null when k6 wrote none, e.g. a usage error). */
  readonly report: GateReport | null;
  /** k6's own metric summaries from the same file (null with the report). */
  readonly metrics: Readonly<Record<string, K6MetricSummary>> | null;
}

export function runGateChild(options: {
  readonly args: readonly string[];
  readonly outDir: string;
  readonly k6Path: string;
  readonly home: string;
  readonly timeoutMs?: number;
  readonly env?: Record<string, string>;
}): Promise<GateChildRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_DIR, 'scripts', 'gate.ts'), '--out', options.outDir, ...options.args],
      {
        cwd: REPO_DIR,
        env: { PATH: process.env.PATH ?? '', HOME: options.home, K6_BIN: options.k6Path, ...options.env },
        timeout: options.timeoutMs ?? 180_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const file = path.join(options.outDir, GATE_REPORT_FILES.json);
        let report: GateReport | null = null;
        let metrics: Record<string, K6MetricSummary> | null = null;
        if (existsSync(file)) {
          try {
            const saved = JSON.parse(readFileSync(file, 'utf8')) as {
              gate: GateReport;
              k6?: { metrics?: Record<string, K6MetricSummary> };
            };
            report = saved.gate;
            metrics = saved.k6?.metrics ?? null;
          } catch {
            report = null;
          }
        }
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : -1) : 0,
          stdout,
          stderr,
          outDir: options.outDir,
          wallMs: Date.now() - started,
          report,
          metrics,
        });
      },
    );
  });
}
