import { classifyRunner, decide, type RunnerRef, readRunState } from '../../lambda/k6-gate/decide';
import { HookEventError, isRollback, parseHookEvent } from '../../lambda/k6-gate/event';
import {
  baseUrlFor,
  clientTokenFor,
  executionSegments,
  runIdFor,
  startedByFor,
} from '../../lambda/k6-gate/runner-plan';
import { RUN_ID_PATTERN } from '../../lib/contract';

const GREEN = 'arn:aws:ecs:us-east-1:1:service-revision/c/s/2';
const BLUE = 'arn:aws:ecs:us-east-1:1:service-revision/c/s/1';
const hook = (stage: string, weights: { test?: Record<string, number>; prod?: Record<string, number> }) =>
  parseHookEvent({
    executionId: 'e1',
    lifecycleStage: stage,
    executionDetails: {
      serviceArn: 'arn:aws:ecs:us-east-1:1:service/c/s',
      targetServiceRevisionArn: GREEN,
      testTrafficWeights: weights.test ?? {},
      productionTrafficWeights: weights.prod ?? {},
    },
  });

describe('k6 execution segments', () => {
  test.each([
    [1, ['0:1'], '0,1'],
    [2, ['0:1/2', '1/2:1'], '0,1/2,1'],
    [3, ['0:1/3', '1/3:2/3', '2/3:1'], '0,1/3,2/3,1'],
  ])('parallelism %i splits the run into %j', (n, segments, sequence) => {
    expect(executionSegments(n)).toEqual({ segments, sequence });
  });
});

describe('identifiers derived from the hook execution', () => {
  const id = 'f4fcae0f-9bec-41c6-ba87-0eaa0cef8af5';
  test('are deterministic and within the API limits', () => {
    expect(clientTokenFor(id, 1)).toBe(`${id}-1`);
    expect(clientTokenFor(id, 1).length).toBeLessThanOrEqual(64);
    expect(startedByFor(id)).toMatch(/^[A-Za-z0-9/_-]{1,128}$/);
    expect(runIdFor(id, 0)).toMatch(RUN_ID_PATTERN);
    expect(runIdFor(id, 0)).not.toBe(runIdFor(id, 1));
  });

  test('runners are spread over the load balancer addresses in a stable order', () => {
    expect(baseUrlFor(['10.0.2.9', '10.0.1.5'], 0, 8080)).toBe('http://10.0.1.5:8080');
    expect(baseUrlFor(['10.0.1.5', '10.0.2.9'], 1, 8080)).toBe('http://10.0.2.9:8080');
    expect(baseUrlFor(['10.0.1.5'], 3, 8443)).toBe('http://10.0.1.5:8443');
  });
});

describe('rollback detection', () => {
  test('production shift back to blue is a rollback', () => {
    expect(isRollback(hook('PRODUCTION_TRAFFIC_SHIFT', { prod: { [GREEN]: 0, [BLUE]: 100 } }))).toBe(true);
  });
  test('test shift back to blue is a rollback', () => {
    expect(isRollback(hook('TEST_TRAFFIC_SHIFT', { test: { [GREEN]: 0, [BLUE]: 100 } }))).toBe(true);
  });
  test('a forward production step is not', () => {
    expect(isRollback(hook('PRODUCTION_TRAFFIC_SHIFT', { prod: { [GREEN]: 25, [BLUE]: 75 } }))).toBe(false);
  });
  test('green at 0% before the first production step is the normal forward case', () => {
    expect(isRollback(hook('PRE_PRODUCTION_TRAFFIC_SHIFT', { prod: { [GREEN]: 0, [BLUE]: 100 } }))).toBe(false);
  });
  test('a stage with no weights is not', () => {
    expect(isRollback(hook('POST_TEST_TRAFFIC_SHIFT', {}))).toBe(false);
  });
});

describe('event parsing', () => {
  test('hook details given as a JSON string (as CloudFormation may pass them) are read like an object', () => {
    const event = parseHookEvent({
      executionId: 'e1',
      lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT',
      executionDetails: { serviceArn: 's', targetServiceRevisionArn: GREEN },
      hookDetails: '{"PROFILE":"light","EXPECTED_VERSION":"2.0.0"}',
    });
    expect(event.hookDetails).toEqual({ PROFILE: 'light', EXPECTED_VERSION: '2.0.0' });
    expect(() =>
      parseHookEvent({
        executionId: 'e1',
        lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT',
        executionDetails: { serviceArn: 's', targetServiceRevisionArn: GREEN },
        hookDetails: '[1]',
      }),
    ).toThrow(/hookDetails is not an object/);
  });

  test('rejects a payload that is not a lifecycle-hook event, naming the field', () => {
    expect(() => parseHookEvent({ lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT' })).toThrow(HookEventError);
    expect(() => parseHookEvent({ executionId: 'x', lifecycleStage: 'ROLLBACK', executionDetails: {} })).toThrow(
      /lifecycleStage 'ROLLBACK'/,
    );
  });
});

describe('runner classification', () => {
  test.each([
    [{ lastStatus: 'RUNNING' }, 'running'],
    [{ lastStatus: 'STOPPED', containers: [{ name: 'k6', exitCode: 0 }] }, 'pass'],
    [{ lastStatus: 'STOPPED', containers: [{ name: 'k6', exitCode: 99 }] }, 'fail'],
    [{ lastStatus: 'STOPPED', containers: [{ name: 'k6', exitCode: 1 }] }, 'error'],
    [{ lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart' as const, containers: [{ name: 'k6' }] }, 'error'],
    [{ lastStatus: 'STOPPED', containers: [{ name: 'other', exitCode: 0 }] }, 'error'],
    [undefined, 'error'],
  ])('%j is %s', (task, state) => {
    expect(classifyRunner(task, 'k6').state).toBe(state);
  });
});

describe('the verdict', () => {
  const r = (index: number): RunnerRef => ({ index, taskArn: `t${index}`, segment: `${index}` });
  test('an error and a threshold failure together are a failed version (the failure is the stronger fact)', () => {
    const d = decide(
      [
        { runner: r(0), outcome: { state: 'error', reason: 'x' } },
        { runner: r(1), outcome: { state: 'fail', exitCode: 99 } },
      ],
      0,
      1,
      10,
    );
    expect(d.verdict).toBe('fail');
  });
  test('waits while a runner runs within the limit', () => {
    expect(
      decide(
        [
          { runner: r(0), outcome: { state: 'pass', exitCode: 0 } },
          { runner: r(1), outcome: { state: 'running', lastStatus: 'RUNNING' } },
        ],
        0,
        10,
        10,
      ),
    ).toEqual({ verdict: 'pending' });
  });
  test('no runner at all can never pass', () => {
    expect(decide([], 0, 0, 10).verdict).toBe('error');
  });
});

describe('run state in hookDetails', () => {
  test('malformed state counts as none (and the first-call path is idempotent anyway)', () => {
    expect(readRunState({ v: 1, startedAtMs: 1, profile: 'smoke', runners: [] })).toBeUndefined();
    expect(readRunState({ v: 2 })).toBeUndefined();
    expect(readRunState('x')).toBeUndefined();
    expect(readRunState({ v: 1, startedAtMs: 1, profile: 'smoke', runners: [{ index: 0, taskArn: 't' }] })).toEqual({
      v: 1,
      startedAtMs: 1,
      profile: 'smoke',
      runners: [{ index: 0, taskArn: 't' }],
    });
  });
});
