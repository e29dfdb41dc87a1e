/**
 * One invocation of the gate hook: recognise a rollback or an audited skip, otherwise start the k6
 * runners (first call of a hook execution) or poll them (every later call), and turn the result
 * into a hook status, gate metrics and exactly one verdict line. Decisions live in `decide.ts` and
 * `runner-plan.ts`; this module only talks to AWS.
 */

import { type CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeNetworkInterfacesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeTasksCommand,
  type ECSClient,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { GATE_ENV, type GateVerdict } from '../../lib/contract';
import { findBaseline } from './baseline';
import type { HookConfig } from './config';
import { classifyRunner, decide, type RunnerOutcome, type RunnerRef, type RunState, readRunState } from './decide';
import { type HookEvent, type HookResponse, isRollback, parseHookEvent, RUN_STATE_KEY } from './event';
import { gateMetricData } from './metrics';
import { gateInputs, planRunners, type RunnerPlan, skipReason, startedByFor } from './runner-plan';

/** ECS invokes an IN_PROGRESS hook again after this many seconds (its default is 30). */
export const CALLBACK_DELAY_SECONDS = 30;

export interface GateDeps {
  readonly ecs: ECSClient;
  readonly ec2: EC2Client;
  readonly cloudwatch: CloudWatchClient;
  readonly config: HookConfig;
  readonly now: () => number;
  readonly log: (line: Record<string, unknown>) => void;
}

interface Finished {
  readonly verdict: GateVerdict;
  readonly reason: string;
  readonly state?: RunState;
  readonly outcomes?: readonly { readonly runner: RunnerRef; readonly outcome: RunnerOutcome }[];
}

export async function handleHookEvent(raw: unknown, deps: GateDeps): Promise<HookResponse> {
  const event = parseHookEvent(raw);
  if (isRollback(event)) {
    verdictLine(deps, event, { verdict: 'rollback', reason: 'rollback re-invocation: answered without load' });
    return { hookStatus: 'SUCCEEDED' };
  }
  const skip = skipReason(event);
  if (skip) {
    verdictLine(deps, event, { verdict: 'skipped', reason: `skipped by an operator: ${skip}`, level: 'WARN' });
    return { hookStatus: 'SUCCEEDED' };
  }
  const state = readRunState(event.hookDetails[RUN_STATE_KEY]);
  try {
    return state ? await poll(event, state, deps) : await start(event, deps);
  } catch (err) {
    return finish(event, deps, {
      verdict: 'error',
      reason: `gate error: ${describeError(err)}`,
      ...(state ? { state } : {}),
    });
  }
}

async function start(event: HookEvent, deps: GateDeps): Promise<HookResponse> {
  const { config } = deps;
  const inputs = gateInputs(event);
  const addresses = await loadBalancerAddresses(deps);
  // Canary and linear steps look it up too: each step compares the new revision with the old one.
  const baseline = await findBaseline(event, {
    ecs: deps.ecs,
    clusterArn: config.clusterArn,
    ...(config.serviceContainerPort !== undefined ? { containerPort: config.serviceContainerPort } : {}),
  });
  const plans = planRunners(event, config, inputs, addresses, baseline.kind === 'found' ? baseline.urls : []);

  const started: { plan: RunnerPlan; task: Task }[] = [];
  const failures: string[] = [];
  for (const plan of plans) {
    const result = await runOrAdopt(event, plan, deps);
    if (result.task?.taskArn) started.push({ plan, task: result.task });
    else failures.push(`${plan.segment ?? `runner ${plan.index}`}: ${result.failure}`);
  }

  const runners: RunnerRef[] = started.map(({ plan, task }) => ({
    index: plan.index,
    taskArn: task.taskArn as string,
    ...(plan.segment ? { segment: plan.segment } : {}),
  }));
  const createdAt = started.map(({ task }) => task.createdAt?.getTime()).filter((t): t is number => t !== undefined);
  const state: RunState = {
    v: 1,
    // The earliest creation time, not "now": a retried first call adopts the same tasks and keeps the clock.
    startedAtMs: createdAt.length > 0 ? Math.min(...createdAt) : deps.now(),
    profile: inputs.profile,
    ...(inputs.expectedVersion ? { expectedVersion: inputs.expectedVersion } : {}),
    runners,
  };

  if (failures.length > 0) {
    await stopRunners(runners, 'k6 gate: another runner failed to start', deps);
    return finish(event, deps, {
      verdict: 'error',
      reason: `gate error: runner failed to start (${failures.join('; ')})`,
      state,
    });
  }
  deps.log({
    level: 'INFO',
    event: 'k6-gate.started',
    executionId: event.executionId,
    lifecycleStage: event.lifecycleStage,
    profile: inputs.profile,
    expectedVersion: inputs.expectedVersion ?? null,
    baseline:
      baseline.kind === 'found'
        ? { revision: baseline.revisionArn, taskDefinition: baseline.taskDefinitionArn, urls: baseline.urls }
        : { none: baseline.reason },
    tasks: runners,
  });
  return inProgress(state);
}

/**
 * RunTask with a client token derived from the hook execution: a retried invocation that lost its
 * `hookDetails` gets the original tasks back instead of starting a second run. If the parameters
 * changed in between (the load balancer's addresses moved), ECS answers ConflictException; then the
 * task started for this execution and segment is found by its `startedBy` tag and RUN_ID instead.
 */
async function runOrAdopt(
  event: HookEvent,
  plan: RunnerPlan,
  deps: GateDeps,
): Promise<{ task?: Task; failure?: string }> {
  try {
    const out = await deps.ecs.send(new RunTaskCommand(plan.input));
    const task = out.tasks?.[0];
    if (task?.taskArn) return { task };
    const failure = out.failures?.map((f) => [f.reason, f.detail].filter(Boolean).join(': ')).join('; ');
    return { failure: failure || 'RunTask started no task' };
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConflictException') throw err;
    const adopted = await findStartedRunner(event, plan, deps);
    return adopted ? { task: adopted } : { failure: `RunTask conflict and no task found for ${plan.runId}` };
  }
}

async function findStartedRunner(event: HookEvent, plan: RunnerPlan, deps: GateDeps): Promise<Task | undefined> {
  const { config } = deps;
  const arns: string[] = [];
  for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) {
    const out = await deps.ecs.send(
      new ListTasksCommand({ cluster: config.clusterArn, startedBy: startedByFor(event.executionId), desiredStatus }),
    );
    arns.push(...(out.taskArns ?? []));
  }
  if (arns.length === 0) return undefined;
  const described = await deps.ecs.send(new DescribeTasksCommand({ cluster: config.clusterArn, tasks: arns }));
  return described.tasks?.find((t) =>
    t.overrides?.containerOverrides?.some((c) =>
      c.environment?.some((e) => e.name === GATE_ENV.runId && e.value === plan.runId),
    ),
  );
}

async function poll(event: HookEvent, state: RunState, deps: GateDeps): Promise<HookResponse> {
  const { config } = deps;
  let tasks: Task[];
  try {
    const out = await deps.ecs.send(
      new DescribeTasksCommand({ cluster: config.clusterArn, tasks: state.runners.map((r) => r.taskArn) }),
    );
    tasks = out.tasks ?? [];
  } catch (err) {
    // A throttled or failed poll is not a verdict; the gate's own time limit still bounds the wait.
    if (deps.now() - state.startedAtMs <= config.timeoutMs) {
      deps.log({
        level: 'WARN',
        event: 'k6-gate.poll-failed',
        executionId: event.executionId,
        error: describeError(err),
      });
      return inProgress(state);
    }
    throw err;
  }
  const outcomes = state.runners.map((runner) => ({
    runner,
    outcome: classifyRunner(
      tasks.find((t) => t.taskArn === runner.taskArn),
      config.containerName,
    ),
  }));
  const decision = decide(outcomes, state.startedAtMs, deps.now(), config.timeoutMs);
  if (decision.verdict === 'pending') return inProgress(state);
  const stillRunning = outcomes.filter((o) => o.outcome.state === 'running').map((o) => o.runner);
  await stopRunners(stillRunning, `k6 gate decided: ${decision.verdict}`, deps);
  return finish(event, deps, { verdict: decision.verdict, reason: decision.reason, state, outcomes });
}

function inProgress(state: RunState): HookResponse {
  return { hookStatus: 'IN_PROGRESS', callBackDelay: CALLBACK_DELAY_SECONDS, hookDetails: { [RUN_STATE_KEY]: state } };
}

async function finish(event: HookEvent, deps: GateDeps, result: Finished): Promise<HookResponse> {
  const now = deps.now();
  const durationSeconds = result.state ? Math.max(0, (now - result.state.startedAtMs) / 1000) : 0;
  try {
    await deps.cloudwatch.send(
      new PutMetricDataCommand(gateMetricData(deps.config.serviceName, result.verdict, durationSeconds, new Date(now))),
    );
  } catch (err) {
    // The verdict stands without its metric; the log line says the metric is missing.
    deps.log({
      level: 'ERROR',
      event: 'k6-gate.metrics-failed',
      executionId: event.executionId,
      error: describeError(err),
    });
  }
  verdictLine(deps, event, {
    verdict: result.verdict,
    reason: result.reason,
    level: result.verdict === 'pass' ? 'INFO' : 'ERROR',
    durationSeconds: Math.round(durationSeconds),
    profile: result.state?.profile ?? null,
    expectedVersion: result.state?.expectedVersion ?? null,
    runners: (result.outcomes ?? result.state?.runners.map((runner) => ({ runner, outcome: undefined })) ?? []).map(
      ({ runner, outcome }) => ({ ...runner, ...(outcome ?? {}) }),
    ),
    runnerLogGroup: deps.config.runnerLogGroup,
  });
  return { hookStatus: result.verdict === 'pass' ? 'SUCCEEDED' : 'FAILED' };
}

/** The one structured line per hook execution that says what the gate decided and why. */
function verdictLine(
  deps: GateDeps,
  event: HookEvent,
  fields: { verdict: string; reason: string; level?: string } & Record<string, unknown>,
): void {
  const { level = 'INFO', ...rest } = fields;
  deps.log({
    level,
    event: 'k6-gate.verdict',
    hookStatus:
      fields.verdict === 'pass' || fields.verdict === 'rollback' || fields.verdict === 'skipped'
        ? 'SUCCEEDED'
        : 'FAILED',
    executionId: event.executionId,
    lifecycleStage: event.lifecycleStage,
    deployment: event.resourceArn ?? null,
    serviceArn: event.executionDetails.serviceArn,
    targetServiceRevisionArn: event.executionDetails.targetServiceRevisionArn,
    ...rest,
  });
}

async function stopRunners(runners: readonly RunnerRef[], reason: string, deps: GateDeps): Promise<void> {
  await Promise.all(
    runners.map(async (r) => {
      try {
        await deps.ecs.send(
          new StopTaskCommand({ cluster: deps.config.clusterArn, task: r.taskArn, reason: reason.slice(0, 255) }),
        );
      } catch (err) {
        deps.log({ level: 'WARN', event: 'k6-gate.stop-failed', taskArn: r.taskArn, error: describeError(err) });
      }
    }),
  );
}

/**
 * The load balancer's private addresses. The test listener admits only the runner's security group,
 * and security-group references match only traffic that stays inside the VPC: through the public
 * DNS name of an internet-facing load balancer the runner's packets would leave via the NAT gateway
 * and arrive from its public address. Its network interfaces are described `ELB app/<name>/<id>`.
 */
async function loadBalancerAddresses(deps: GateDeps): Promise<string[]> {
  const out = await deps.ec2.send(
    new DescribeNetworkInterfacesCommand({
      Filters: [{ Name: 'description', Values: [`ELB ${deps.config.loadBalancerFullName}`] }],
    }),
  );
  return (out.NetworkInterfaces ?? [])
    .filter((eni) => eni.Status === undefined || eni.Status === 'in-use')
    .map((eni) => eni.PrivateIpAddress)
    .filter((ip): ip is string => typeof ip === 'string');
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
