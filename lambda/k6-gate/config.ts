/**
 * The hook's own configuration, read once at cold start from the function's environment (the
 * contract's `HOOK_ENV`, set at synth by lib/constructs/k6-gate-hook.ts) and validated: a missing
 * or bad value stops the function with one message that names every problem, which ECS answers
 * with a rollback.
 */
import { HOOK_ENV } from '../../lib/contract';

export interface HookConfig {
  readonly clusterArn: string;
  readonly taskDefinitionArn: string;
  readonly containerName: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupId: string;
  readonly runnerLogGroup: string;
  readonly loadBalancerFullName: string;
  readonly testListenerPort: number;
  /** Absent: no baseline is looked up, the gate judges fixed limits only. */
  readonly serviceContainerPort?: number;
  readonly serviceName: string;
  readonly parallelism: number;
  readonly timeoutMs: number;
}

export class HookConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`k6-gate hook misconfigured: ${problems.join('; ')}`);
    this.name = 'HookConfigError';
  }
}

export function readHookConfig(env: Readonly<Record<string, string | undefined>>): HookConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const v = env[name]?.trim();
    if (!v) problems.push(`${name} is missing`);
    return v ?? '';
  };
  const integer = (name: string, min: number, max: number): number => {
    const raw = required(name);
    const n = Number(raw);
    if (raw && !(Number.isInteger(n) && n >= min && n <= max)) problems.push(`${name}=${raw} must be ${min}-${max}`);
    return n;
  };

  const clusterArn = required(HOOK_ENV.clusterArn);
  const taskDefinitionArn = required(HOOK_ENV.taskDefinitionArn);
  const containerName = required(HOOK_ENV.containerName);
  const subnetIds = required(HOOK_ENV.subnetIds)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const securityGroupId = required(HOOK_ENV.securityGroupId);
  const runnerLogGroup = required(HOOK_ENV.runnerLogGroup);
  const loadBalancerFullName = required(HOOK_ENV.loadBalancerFullName);
  const testListenerPort = integer(HOOK_ENV.testListenerPort, 1, 65535);
  const rawContainerPort = env[HOOK_ENV.serviceContainerPort]?.trim();
  const serviceContainerPort = rawContainerPort ? integer(HOOK_ENV.serviceContainerPort, 1, 65535) : undefined;
  const serviceName = required(HOOK_ENV.serviceName);
  const parallelism = integer(HOOK_ENV.parallelism, 1, 10);
  const timeoutMinutes = integer(HOOK_ENV.timeoutMinutes, 1, 1440);
  if (clusterArn && !/^arn:aws[a-z-]*:ecs:/.test(clusterArn)) problems.push(`${HOOK_ENV.clusterArn} is not an ECS ARN`);

  if (problems.length > 0) throw new HookConfigError(problems);
  return {
    clusterArn,
    taskDefinitionArn,
    containerName,
    subnetIds,
    securityGroupId,
    runnerLogGroup,
    loadBalancerFullName,
    testListenerPort,
    ...(serviceContainerPort !== undefined ? { serviceContainerPort } : {}),
    serviceName,
    parallelism,
    timeoutMs: timeoutMinutes * 60_000,
  };
}
