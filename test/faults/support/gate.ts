/**
 * `npm run gate` as a pipeline runs it (the real wrapper, the real bundle, real k6), and the loud
 * skip for machines without k6: CI has none, so the real-k6 tests say SKIPPED in their titles and
 * on the console, and everything else in the same file still runs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GATE_REPORT_FILES } from '../../../lib/contract/gate';
import { locateK6 } from '../../../scripts/gate/locate-k6';

const REPO = path.resolve(__dirname, '..', '..', '..');

export const k6 = locateK6(process.env);

/** `test` when k6 is here, `test.skip` otherwise (with the reason in the title). */
export const testWithK6: jest.It = k6.found ? test : test.skip;

/** The title of a real-k6 test; without k6 it starts with SKIPPED and says why. */
export function k6Title(title: string): string {
  return k6.found ? title : `SKIPPED (no k6 on K6_BIN or PATH, real-k6 part not run): ${title}`;
}

/** Call once per file at load time: a console line that cannot be missed in the jest output. */
export function warnIfNoK6(what: string): void {
  if (!k6.found) console.warn(`SKIPPED: ${what} did not run: ${k6.message}`);
}

export interface GateRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly outDir: string;
  /** "time to verdict" as the wrapper printed it (bundling and k6 start-up included), seconds. */
  readonly seconds: number;
  /** The metrics whose thresholds failed, from the JSON report (empty when it has none). */
  readonly failed: string[];
  /** The same as `metric expression`, e.g. `chat_latency{scenario:smoke} p(95)<8000`. */
  readonly failedThresholds: string[];
  /** The gate report (`k6-summary.json` → `gate`), when k6 wrote one. */
  readonly report: Record<string, unknown> | undefined;
}

export interface GateArgs {
  readonly target: string;
  readonly profile?: string;
  readonly expectedVersion?: string;
  /** Threshold overrides and other gate env (e.g. MAX_P95_MS). */
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
}

let workDir: string | undefined;

export function runGate(args: GateArgs): Promise<GateRun> {
  if (!k6.found) throw new Error('runGate needs k6');
  workDir ??= mkdtempSync(path.join(tmpdir(), 'chat-faults-gate-'));
  const outDir = mkdtempSync(path.join(workDir, 'out-'));
  const argv = [
    '--import',
    'tsx',
    path.join(REPO, 'scripts', 'gate.ts'),
    '--target',
    args.target,
    '--profile',
    args.profile ?? 'smoke',
    '--out',
    outDir,
    ...(args.expectedVersion ? ['--expected-version', args.expectedVersion] : []),
  ];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      argv,
      {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? '', HOME: workDir, K6_BIN: k6.found ? k6.path : '', ...args.env },
        timeout: args.timeoutMs ?? 150_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        let report: Record<string, unknown> | undefined;
        try {
          report = JSON.parse(readFileSync(path.join(outDir, GATE_REPORT_FILES.json), 'utf8')).gate;
        } catch {
          report = undefined;
        }
        const thresholds = (report?.thresholds ?? []) as Array<{ ok: boolean; metric: string; expression: string }>;
        resolve({
          code,
          stdout,
          stderr,
          outDir,
          seconds: Number(/^gate: time to verdict ([\d.]+) s/m.exec(stdout)?.[1] ?? Number.NaN),
          failed: thresholds.filter((t) => !t.ok).map((t) => t.metric),
          failedThresholds: thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.expression}`),
          report,
        });
      },
    );
  });
}

/** The last lines of a gate's output, for a failure message. */
export const tail = (run: GateRun, chars = 2500) => `${run.stdout}\n${run.stderr}`.slice(-chars);
