/**
 * `npm run gate`: validate arguments, find k6, bundle the suites, run k6 with the gate's inputs,
 * stream its output, and exit with k6's own code. The wrapper never turns a k6 failure into 0.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { GATE_EXIT_CODES, GATE_REPORT_FILES } from '../../lib/contract/gate';
import { bundleLoadtests, LOADTESTS_DIST } from '../../loadtests/bundle';
import { generateRunId } from '../../loadtests/src/lib/corpus';
import { parseGateArgs, USAGE } from './args';
import { authPreflight } from './auth';
import { buildK6Invocation, describeK6Exit, formatCommand, refusedEnvironment, validateGateInputs } from './k6-command';
import { locateK6 } from './locate-k6';

export interface GateIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly cwd: string;
  readonly now: () => number;
}

const defaultIo: GateIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  cwd: process.cwd(),
  now: () => Date.now(),
};

export async function runGate(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: GateIo = defaultIo,
): Promise<number> {
  const started = io.now();
  const parsed = parseGateArgs(argv);
  if (parsed.kind === 'help') {
    io.err(USAGE);
    return GATE_EXIT_CODES.usage;
  }
  if (parsed.kind === 'error') {
    io.err(`gate: ${parsed.message}\n\n${USAGE}`);
    return GATE_EXIT_CODES.usage;
  }
  const refused = refusedEnvironment(env);
  if (refused.length > 0) {
    io.err(`gate: refusing to run:\n  - ${refused.join('\n  - ')}`);
    return GATE_EXIT_CODES.usage;
  }

  const runId = parsed.options.runId ?? generateRunId(Date.now(), Math.random);
  const outDirAbsolute = path.resolve(io.cwd, parsed.options.outDir);
  const scriptPath = path.join(LOADTESTS_DIST, 'gate.js');
  const invocation = buildK6Invocation({ ...parsed.options, runId, outDirAbsolute }, scriptPath, env);
  const problems = validateGateInputs({ ...env, ...invocation.gateEnv });
  if (problems.length > 0) {
    io.err(`gate: invalid gate input:\n  - ${problems.join('\n  - ')}\n\n${USAGE}`);
    return GATE_EXIT_CODES.usage;
  }

  const auth = await authPreflight(parsed.options.target, env);
  if (!auth.ok) {
    io.err(`gate: authentication failed, no load was sent: ${auth.problem}`);
    return GATE_EXIT_CODES.authFailed;
  }
  io.out(`gate: authenticating with ${auth.summary}`);

  const k6 = locateK6(env);
  if (!k6.found) {
    io.err(`gate: ${k6.message}`);
    return GATE_EXIT_CODES.k6NotFound;
  }

  try {
    const bundle = await bundleLoadtests();
    io.out(
      `gate: bundled ${bundle.entries.length} k6 entr${bundle.entries.length === 1 ? 'y' : 'ies'} in ${bundle.durationMs} ms`,
    );
  } catch (error) {
    io.err(`gate: could not bundle loadtests/src: ${error instanceof Error ? error.message : String(error)}`);
    return GATE_EXIT_CODES.wrapperError;
  }
  mkdirSync(outDirAbsolute, { recursive: true });

  io.out(`gate: running ${formatCommand(k6.path, invocation.args)}`);
  const { code, signal, spawnError } = await spawnInherit(k6.path, invocation.args, env);
  const seconds = ((io.now() - started) / 1000).toFixed(1);
  if (spawnError) {
    io.err(`gate: could not start ${k6.path}: ${spawnError.message}`);
    return GATE_EXIT_CODES.k6NotFound;
  }
  io.out(describeK6Exit(code, signal));
  io.out(`gate: time to verdict ${seconds} s (wall clock, bundling and k6 start-up included)`);
  io.out(
    `gate: reports in ${path.join(outDirAbsolute, GATE_REPORT_FILES.json)} and ${path.join(outDirAbsolute, GATE_REPORT_FILES.junit)}`,
  );
  return code;
}

interface ChildOutcome {
  /** k6's exit code, or 128 + the signal number when a signal ended it. Never 0 unless k6 exited 0. */
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly spawnError?: Error;
}

function spawnInherit(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', env });
    // A terminal's Ctrl-C reaches k6 directly (same process group) and k6 stops gracefully; a
    // SIGTERM sent to the wrapper alone (CI cancelling the job) is passed on, then k6's code wins.
    const forward = () => child.kill('SIGTERM');
    process.on('SIGTERM', forward);
    process.on('SIGINT', ignore);
    const done = (outcome: ChildOutcome) => {
      process.off('SIGTERM', forward);
      process.off('SIGINT', ignore);
      resolve(outcome);
    };
    child.once('error', (error) => done({ code: GATE_EXIT_CODES.k6NotFound, signal: null, spawnError: error }));
    child.once('exit', (code, signal) => {
      if (code !== null) done({ code, signal: null });
      else done({ code: 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0), signal });
    });
  });
}

function ignore(): void {}
