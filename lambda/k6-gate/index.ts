/**
 * ECS deployment lifecycle hook: the in-AWS k6 gate. Registered at POST_TEST_TRAFFIC_SHIFT (and at
 * PRODUCTION_TRAFFIC_SHIFT for canary and linear deployments, where ECS invokes it at every traffic
 * shift step). Thin on purpose: configuration is read once per cold start, the work is in `gate.ts`
 * and the decisions in `decide.ts` / `runner-plan.ts`.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { type HookConfig, HookConfigError, readHookConfig } from './config';
import type { HookResponse } from './event';
import { handleHookEvent } from './gate';

let config: HookConfig | undefined;
let configError: HookConfigError | undefined;
try {
  config = readHookConfig(process.env);
} catch (err) {
  if (!(err instanceof HookConfigError)) throw err;
  configError = err;
}

const ecs = new ECSClient({});
const ec2 = new EC2Client({});
const cloudwatch = new CloudWatchClient({});
const log = (line: Record<string, unknown>) => console.log(JSON.stringify(line));

export async function handler(event: unknown): Promise<HookResponse> {
  if (!config) {
    // A broken deployment of the hook itself must not pass a version: FAILED rolls back, loudly.
    log({ level: 'ERROR', event: 'k6-gate.verdict', verdict: 'error', reason: configError?.message });
    return { hookStatus: 'FAILED' };
  }
  return handleHookEvent(event, { ecs, ec2, cloudwatch, config, now: Date.now, log });
}
