/**
 * The gate's decisions, as plain functions over what ECS reported: no AWS calls, no clock, no
 * environment. The handler gathers observations and calls these; the tests call them directly.
 */
import type { Task } from '@aws-sdk/client-ecs';
import { classifyGateExit, GATE_EXIT_CODES, type GateVerdict } from '../../lib/contract';

/** One runner as the hook remembers it between invocations (inside `hookDetails`). */
export interface RunnerRef {
  readonly index: number;
  readonly taskArn: string;
  readonly segment?: string;
}

/** What the hook keeps in `hookDetails` while the runners work. */
export interface RunState {
  readonly v: 1;
  readonly startedAtMs: number;
  readonly profile: string;
  readonly expectedVersion?: string;
  readonly runners: readonly RunnerRef[];
}

export type RunnerOutcome =
  | { readonly state: 'running'; readonly lastStatus: string }
  | { readonly state: 'pass'; readonly exitCode: 0 }
  | { readonly state: 'fail'; readonly exitCode: number }
  | { readonly state: 'error'; readonly reason: string; readonly exitCode?: number };

export type Decision = { readonly verdict: 'pending' } | { readonly verdict: GateVerdict; readonly reason: string };

/** Classifies one runner task from DescribeTasks; `undefined` means ECS no longer knows the task. */
export function classifyRunner(task: Task | undefined, containerName: string): RunnerOutcome {
  if (!task) return { state: 'error', reason: 'ECS does not know the runner task any more (DescribeTasks: MISSING)' };
  const lastStatus = task.lastStatus ?? 'UNKNOWN';
  if (lastStatus !== 'STOPPED') return { state: 'running', lastStatus };
  const stopped = [task.stopCode, task.stoppedReason].filter(Boolean).join(': ');
  if (task.stopCode === 'TaskFailedToStart') return { state: 'error', reason: `runner failed to start (${stopped})` };
  const container = task.containers?.find((c) => c.name === containerName);
  const exitCode = container?.exitCode;
  if (exitCode === undefined || exitCode === null) {
    const detail = [stopped, container?.reason].filter(Boolean).join('; ') || 'no reason given';
    return { state: 'error', reason: `runner stopped without an exit code (${detail})` };
  }
  switch (classifyGateExit(exitCode)) {
    case 'pass':
      return { state: 'pass', exitCode: GATE_EXIT_CODES.pass };
    case 'fail':
      return { state: 'fail', exitCode };
    default:
      return { state: 'error', exitCode, reason: `k6 exited ${exitCode}${describeExit(exitCode)}` };
  }
}

function describeExit(code: number): string {
  const known = Object.entries(GATE_EXIT_CODES).find(([, c]) => c === code);
  return known ? ` (${known[0]})` : '';
}

/**
 * The verdict over every runner. A threshold failure (exit 99) in any segment fails the version at
 * once, even while other segments still run; otherwise any runner that could not produce a verdict
 * is a gate error; all exits 0 pass; and a run still going past the gate's own time limit is a gate
 * error too, so a stuck runner can never hold a deployment or pass it.
 */
export function decide(
  outcomes: readonly { readonly runner: RunnerRef; readonly outcome: RunnerOutcome }[],
  startedAtMs: number,
  nowMs: number,
  timeoutMs: number,
): Decision {
  if (outcomes.length === 0) return { verdict: 'error', reason: 'no runner was started' };
  const label = (r: RunnerRef) => (r.segment ? `segment ${r.segment}` : `runner ${r.index}`);
  const failed = outcomes.filter((o) => o.outcome.state === 'fail');
  if (failed.length > 0) {
    return {
      verdict: 'fail',
      reason: `k6 thresholds failed (exit ${GATE_EXIT_CODES.thresholdsFailed}) in ${failed.map((o) => label(o.runner)).join(', ')}`,
    };
  }
  const errors = outcomes.filter((o) => o.outcome.state === 'error');
  if (errors.length > 0) {
    return {
      verdict: 'error',
      reason: `gate error: ${errors.map((o) => `${label(o.runner)}: ${(o.outcome as { reason: string }).reason}`).join('; ')}`,
    };
  }
  if (outcomes.every((o) => o.outcome.state === 'pass')) {
    return {
      verdict: 'pass',
      reason: `k6 passed in ${outcomes.length === 1 ? 'the runner' : `all ${outcomes.length} segments`}`,
    };
  }
  const elapsedMs = nowMs - startedAtMs;
  if (elapsedMs > timeoutMs) {
    const running = outcomes.filter((o) => o.outcome.state === 'running').map((o) => label(o.runner));
    return {
      verdict: 'error',
      reason: `gate error: timed out after ${Math.round(elapsedMs / 1000)} s (limit ${Math.round(timeoutMs / 60_000)} min); still running: ${running.join(', ')}`,
    };
  }
  return { verdict: 'pending' };
}

/** Reads the hook's own state back from `hookDetails`; anything malformed counts as no state. */
export function readRunState(value: unknown): RunState | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const s = value as Partial<RunState>;
  if (s.v !== 1 || typeof s.startedAtMs !== 'number' || typeof s.profile !== 'string' || !Array.isArray(s.runners)) {
    return undefined;
  }
  const runners = s.runners.filter(
    (r): r is RunnerRef =>
      typeof r === 'object' && r !== null && typeof r.taskArn === 'string' && typeof r.index === 'number',
  );
  if (runners.length !== s.runners.length || runners.length === 0) return undefined;
  return {
    v: 1,
    startedAtMs: s.startedAtMs,
    profile: s.profile,
    ...(typeof s.expectedVersion === 'string' ? { expectedVersion: s.expectedVersion } : {}),
    runners,
  };
}
