/**
 * What a gate run looks like, decided from the event and the configuration alone, so a retried
 * invocation computes exactly the same RunTask requests as the first one (same client tokens, same
 * parameters): that is what makes RunTask idempotent here.
 */
import type { RunTaskCommandInput } from '@aws-sdk/client-ecs';
import {
  GATE_ENV,
  type GateProfile,
  HOOK_DETAILS,
  isGateProfile,
  LLM_PRICE_RULE,
  parseLlmPrice,
} from '../../lib/contract';
import type { HookConfig } from './config';
import type { HookEvent } from './event';

/** The gate's inputs for one hook execution: what the service definition's hook details say. */
export interface GateInputs {
  readonly profile: GateProfile;
  readonly expectedVersion?: string;
  /** `LLM_PRICE_PER_MTOK` as the stage config set it; absent: the verdict shows tokens only. */
  readonly llmPricePerMTok?: string;
}

export class GateInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateInputError';
  }
}

/**
 * The profile and the expected version, from the hook details alone (set at synth on the service's
 * lifecycle hook; see `HOOK_DETAILS`). A missing or unknown profile is a gate error, never a default.
 */
export function gateInputs(event: HookEvent): GateInputs {
  const { [HOOK_DETAILS.profile]: profile, [HOOK_DETAILS.expectedVersion]: version } = event.hookDetails;
  if (typeof profile !== 'string' || !isGateProfile(profile)) {
    throw new GateInputError(`hookDetails.${HOOK_DETAILS.profile}=${String(profile)} is not a gate profile`);
  }
  if (version !== undefined && (typeof version !== 'string' || version.trim() === '')) {
    throw new GateInputError(`hookDetails.${HOOK_DETAILS.expectedVersion} must be a non-empty string`);
  }
  const price = event.hookDetails[HOOK_DETAILS.llmPricePerMTok];
  if (price !== undefined && (typeof price !== 'string' || parseLlmPrice(price) === 'invalid')) {
    throw new GateInputError(`hookDetails.${HOOK_DETAILS.llmPricePerMTok}: ${LLM_PRICE_RULE}`);
  }
  return {
    profile,
    ...(version ? { expectedVersion: version.trim() } : {}),
    ...(typeof price === 'string' && price.trim() ? { llmPricePerMTok: price.trim() } : {}),
  };
}

/** The operator's skip reason from the hook details, when one of at least 10 characters is set. */
export function skipReason(event: HookEvent): string | undefined {
  const raw = event.hookDetails[HOOK_DETAILS.skipReason];
  return typeof raw === 'string' && raw.trim().length >= 10 ? raw.trim() : undefined;
}

/**
 * k6 execution segments that split one run into `n` equal parts: n=2 gives `0:1/2` and `1/2:1`.
 * Every runner also gets the full sequence, so k6 partitions VUs the same way on each of them.
 * https://grafana.com/docs/k6/latest/using-k6/k6-options/reference/#execution-segment
 */
export function executionSegments(n: number): { readonly segments: string[]; readonly sequence: string } {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`parallelism ${n} must be a positive integer`);
  const point = (i: number) => (i === 0 ? '0' : i === n ? '1' : `${i}/${n}`);
  const points = Array.from({ length: n + 1 }, (_, i) => point(i));
  return {
    segments: Array.from({ length: n }, (_, i) => `${points[i]}:${points[i + 1]}`),
    sequence: points.join(','),
  };
}

/** Tags every runner of one hook execution (ECS allows letters, digits, `-`, `_` and `/`, 128 at most). */
export function startedByFor(executionId: string): string {
  return `k6-gate/${executionId.replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 128);
}

/**
 * One client token per segment and hook execution: ECS returns the original RunTask result for a
 * repeated token with the same parameters, for 24 hours, per cluster (ECS API reference, "Ensuring
 * idempotency"). 64 printable ASCII characters at most.
 */
export function clientTokenFor(executionId: string, index: number): string {
  return `${executionId}-${index}`.replace(/[^\x21-\x7e]/g, '_').slice(0, 64);
}

/** RUN_ID makes each runner's "never cacheable" prompts unique; it fits the contract's `RUN_ID_PATTERN`. */
export function runIdFor(executionId: string, index: number): string {
  return `g${executionId.replace(/[^A-Za-z0-9]/g, '').slice(0, 32)}-${index}`;
}

/** The test listener URL for runner `index`: spreads runners over the load balancer's private addresses. */
export function baseUrlFor(addresses: readonly string[], index: number, port: number): string {
  if (addresses.length === 0) throw new GateInputError('the load balancer has no private address to test through');
  const sorted = [...addresses].sort();
  return `http://${sorted[index % sorted.length]}:${port}`;
}

export interface RunnerPlan {
  readonly index: number;
  /** Undefined when the run is not split. */
  readonly segment?: string;
  readonly runId: string;
  readonly input: RunTaskCommandInput;
}

export function planRunners(
  event: HookEvent,
  config: HookConfig,
  inputs: GateInputs,
  addresses: readonly string[],
  /** The serving revision's URLs (see `baseline.ts`); empty or absent: fixed limits only. */
  baselineUrls: readonly string[] = [],
): RunnerPlan[] {
  const { segments, sequence } = executionSegments(config.parallelism);
  return segments.map((segment, index) => {
    const split = config.parallelism > 1;
    const runId = runIdFor(event.executionId, index);
    const environment: Record<string, string> = {
      [GATE_ENV.baseUrl]: baseUrlFor(addresses, index, config.testListenerPort),
      ...(baselineUrls.length > 0
        ? { [GATE_ENV.baselineUrl]: baselineUrls[index % baselineUrls.length] as string }
        : {}),
      [GATE_ENV.profile]: inputs.profile,
      [GATE_ENV.runId]: runId,
      [GATE_ENV.serviceName]: config.serviceName,
      ...(inputs.expectedVersion ? { [GATE_ENV.expectedVersion]: inputs.expectedVersion } : {}),
      ...(inputs.llmPricePerMTok ? { [GATE_ENV.llmPricePerMTok]: inputs.llmPricePerMTok } : {}),
      // The suites scale their no-data guards by it (k6 does not tell the script its segment).
      ...(split ? { [GATE_ENV.executionSegment]: segment } : {}),
    };
    return {
      index,
      ...(split ? { segment } : {}),
      runId,
      input: {
        cluster: config.clusterArn,
        taskDefinition: config.taskDefinitionArn,
        launchType: 'FARGATE',
        count: 1,
        startedBy: startedByFor(event.executionId),
        clientToken: clientTokenFor(event.executionId, index),
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: [...config.subnetIds],
            securityGroups: [config.securityGroupId],
            assignPublicIp: 'DISABLED',
          },
        },
        overrides: {
          containerOverrides: [
            {
              name: config.containerName,
              // The image's ENTRYPOINT is `k6 run <gate script>`: these flags reach k6 unchanged.
              ...(split ? { command: ['--execution-segment', segment, '--execution-segment-sequence', sequence] } : {}),
              environment: Object.entries(environment)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([name, value]) => ({ name, value })),
            },
          ],
        },
      },
    };
  });
}
