/**
 * The ECS deployment lifecycle-hook event and the hook's answer, as documented in "Lambda hooks for
 * Amazon ECS service deployments":
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html
 *
 * - `executionId` identifies one hook execution; every re-invocation of that execution (after an
 *   `IN_PROGRESS` answer) carries the same id, and `hookDetails` returned with `IN_PROGRESS` are
 *   merged and passed back. Those runtime details do not carry over to another hook execution.
 * - `hookDetails` also carries what the service definition configured for the hook (the gate's
 *   profile and expected version, set at synth) on every invocation.
 * - There is no ROLLBACK stage: on a rollback ECS re-invokes the hooks registered at
 *   `TEST_TRAFFIC_SHIFT` and `PRODUCTION_TRAFFIC_SHIFT`, with the weights moving back to the old
 *   revision while `targetServiceRevisionArn` still names the new one.
 */

export const LIFECYCLE_STAGES = [
  'RECONCILE_SERVICE',
  'PRE_SCALE_UP',
  'POST_SCALE_UP',
  'TEST_TRAFFIC_SHIFT',
  'POST_TEST_TRAFFIC_SHIFT',
  'PRE_PRODUCTION_TRAFFIC_SHIFT',
  'PRODUCTION_TRAFFIC_SHIFT',
  'POST_PRODUCTION_TRAFFIC_SHIFT',
] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

export interface ExecutionDetails {
  readonly serviceArn: string;
  readonly targetServiceRevisionArn: string;
  /** Service revision ARN -> percent of test traffic. */
  readonly testTrafficWeights: Readonly<Record<string, number>>;
  /** Service revision ARN -> percent of production traffic. */
  readonly productionTrafficWeights: Readonly<Record<string, number>>;
}

export interface HookEvent {
  readonly executionId: string;
  readonly lifecycleStage: LifecycleStage;
  /** The service deployment ARN. */
  readonly resourceArn?: string;
  readonly executionDetails: ExecutionDetails;
  readonly hookDetails: Readonly<Record<string, unknown>>;
}

export type HookStatus = 'SUCCEEDED' | 'FAILED' | 'IN_PROGRESS';

export interface HookResponse {
  readonly hookStatus: HookStatus;
  /** Seconds until ECS invokes the hook again (IN_PROGRESS only; ECS's default is 30). */
  readonly callBackDelay?: number;
  /** Passed back on the next invocation of the same hook execution (IN_PROGRESS only). */
  readonly hookDetails?: Record<string, unknown>;
}

/** The key under which the hook keeps its own state between invocations. */
export const RUN_STATE_KEY = 'k6GateRun';

export class HookEventError extends Error {
  constructor(message: string) {
    super(`not an ECS lifecycle-hook event: ${message}`);
    this.name = 'HookEventError';
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function weights(v: unknown, field: string): Record<string, number> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw new HookEventError(`executionDetails.${field} is not an object`);
  const out: Record<string, number> = {};
  for (const [arn, weight] of Object.entries(v)) {
    const n = Number(weight);
    if (!Number.isFinite(n)) throw new HookEventError(`executionDetails.${field}[${arn}] is not a number`);
    out[arn] = n;
  }
  return out;
}

/** Validates the raw invocation payload; throws {@link HookEventError} naming the bad field. */
export function parseHookEvent(raw: unknown): HookEvent {
  if (!isRecord(raw)) throw new HookEventError('the payload is not an object');
  const { executionId, lifecycleStage, resourceArn, executionDetails, hookDetails } = raw;
  if (typeof executionId !== 'string' || executionId.length === 0) throw new HookEventError('executionId is missing');
  if (typeof lifecycleStage !== 'string' || !(LIFECYCLE_STAGES as readonly string[]).includes(lifecycleStage)) {
    throw new HookEventError(`lifecycleStage '${String(lifecycleStage)}' is not a known stage`);
  }
  if (!isRecord(executionDetails)) throw new HookEventError('executionDetails is missing');
  const { serviceArn, targetServiceRevisionArn } = executionDetails;
  if (typeof serviceArn !== 'string' || typeof targetServiceRevisionArn !== 'string') {
    throw new HookEventError('executionDetails.serviceArn and targetServiceRevisionArn are required');
  }
  const details = hookDetailsOf(hookDetails);
  return {
    executionId,
    lifecycleStage: lifecycleStage as LifecycleStage,
    ...(typeof resourceArn === 'string' ? { resourceArn } : {}),
    executionDetails: {
      serviceArn,
      targetServiceRevisionArn,
      testTrafficWeights: weights(executionDetails.testTrafficWeights, 'testTrafficWeights'),
      productionTrafficWeights: weights(executionDetails.productionTrafficWeights, 'productionTrafficWeights'),
    },
    hookDetails: details,
  };
}

/**
 * The CloudFormation reference calls a hook's `HookDetails` both "Json" and "a JSON object as a
 * string"; accept an object or a string holding one, refuse anything else.
 */
function hookDetailsOf(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (isRecord(value)) return value;
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      if (isRecord(parsed)) return parsed;
    } catch {
      // fall through to the error below
    }
  }
  throw new HookEventError('hookDetails is not an object');
}

/**
 * A rollback re-invocation: one of the recurring stages (`TEST_TRAFFIC_SHIFT`,
 * `PRODUCTION_TRAFFIC_SHIFT`) whose weights give the target (green) revision 0% while another
 * revision gets the traffic. The documented test (lambda-lifecycle-hooks.html, "Lifecycle hooks
 * during rollback"). Only those two stages can be re-invoked by a rollback; at
 * `PRE_PRODUCTION_TRAFFIC_SHIFT` a 0% green weight is the normal forward case, so it never counts.
 */
export function isRollback(event: HookEvent): boolean {
  const weightsOf =
    event.lifecycleStage === 'PRODUCTION_TRAFFIC_SHIFT'
      ? event.executionDetails.productionTrafficWeights
      : event.lifecycleStage === 'TEST_TRAFFIC_SHIFT'
        ? event.executionDetails.testTrafficWeights
        : undefined;
  if (!weightsOf) return false;
  const target = event.executionDetails.targetServiceRevisionArn;
  const targetWeight = weightsOf[target];
  const others = Object.entries(weightsOf).filter(([arn]) => arn !== target);
  return targetWeight === 0 && others.some(([, w]) => w > 0);
}
