/**
 * The in-AWS gate's ECS lifecycle hook (`lambda/k6-gate`): the names its construct
 * (`lib/constructs/k6-gate-hook.ts`) and the service's hook configuration set, and the handler reads.
 */
import { GATE_ENV } from './gate';

/** The hook function's environment variable names, read once at cold start. */
export const HOOK_ENV = {
  clusterArn: 'CLUSTER_ARN',
  taskDefinitionArn: 'RUNNER_TASK_DEFINITION_ARN',
  containerName: 'RUNNER_CONTAINER_NAME',
  subnetIds: 'RUNNER_SUBNET_IDS',
  securityGroupId: 'RUNNER_SECURITY_GROUP_ID',
  runnerLogGroup: 'RUNNER_LOG_GROUP',
  /** `app/<name>/<id>`: its network interfaces are described `ELB app/<name>/<id>`. */
  loadBalancerFullName: 'LOAD_BALANCER_FULL_NAME',
  testListenerPort: 'TEST_LISTENER_PORT',
  /** The service's container port: the relative gate reaches the serving revision's tasks on it. */
  serviceContainerPort: 'SERVICE_CONTAINER_PORT',
  serviceName: 'SERVICE_NAME',
  parallelism: 'PARALLELISM',
  timeoutMinutes: 'TIMEOUT_MINUTES',
} as const;

/**
 * Keys of the hook details the service definition sets: the gate's own input names, so a profile
 * or version given to the hook means what it means to `npm run gate`. The hook details are the one
 * channel by which the profile and the expected version reach the hook (and from it the runners):
 * they travel with the deployment, so an operator's override for one deployment is an audited
 * `UpdateService` call.
 */
export const HOOK_DETAILS = {
  /** Required: a hook execution without it fails (ECS rolls back) rather than guess a profile. */
  profile: GATE_ENV.profile,
  /** Optional: absent, the gate checks no version (as `npm run gate` without `--expected-version`). */
  expectedVersion: GATE_ENV.expectedVersion,
  /** Optional: the stage's LLM price (`<input>/<output>` USD per million tokens), for the verdict's cost figures. */
  llmPricePerMTok: GATE_ENV.llmPricePerMTok,
  /** An operator's audited override: a reason of at least 10 characters answers SUCCEEDED without load. */
  skipReason: 'SKIP_GATE_REASON',
} as const;
