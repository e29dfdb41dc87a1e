/**
 * The relative gate's baseline in AWS: the service revision serving production now, reached at its
 * tasks' private addresses on the container port (the runner's security group is the only other
 * source the service's group admits there). Not through the production listener: during canary and
 * linear steps that listener serves both revisions, which would mix the candidate into its own
 * baseline; and its HTTPS certificate names a domain, not the load balancer's private addresses.
 *
 * No baseline (the gate then runs on fixed limits and says so): a first deploy (no other revision
 * takes production traffic), a serving revision that runs the very same task definition (a forced
 * redeploy: it would answer with the candidate's version, which the gate treats as swapped URLs),
 * or no running task of the serving revision.
 */
import {
  DescribeServiceRevisionsCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListTasksCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import type { HookEvent } from './event';

export type BaselineLookup =
  | { readonly kind: 'none'; readonly reason: string }
  | {
      readonly kind: 'found';
      readonly revisionArn: string;
      readonly taskDefinitionArn: string;
      /** `http://<task ip>:<container port>`, one per running task, sorted. */
      readonly urls: readonly string[];
    };

/** The revision other than the target with the largest production weight; undefined on a first deploy. */
export function servingRevision(event: HookEvent): string | undefined {
  let best: { arn: string; weight: number } | undefined;
  for (const [arn, weight] of Object.entries(event.executionDetails.productionTrafficWeights)) {
    if (arn === event.executionDetails.targetServiceRevisionArn || !(weight > 0)) continue;
    if (!best || weight > best.weight) best = { arn, weight };
  }
  return best?.arn;
}

/** `arn:aws:ecs:<region>:<account>:service/<cluster>/<name>` → `<name>`. */
export function serviceNameOf(serviceArn: string): string {
  return serviceArn.split('/').pop() ?? serviceArn;
}

/** The private IPv4 address of an awsvpc task, from its ENI attachment. */
export function taskAddress(task: Task): string | undefined {
  for (const attachment of task.attachments ?? []) {
    for (const d of attachment.details ?? []) if (d.name === 'privateIPv4Address' && d.value) return d.value;
  }
  return undefined;
}

/** Spreads runners over the baseline's tasks like `baseUrlFor` spreads them over the ALB's addresses. */
export function baselineUrlFor(lookup: BaselineLookup, index: number): string | undefined {
  if (lookup.kind !== 'found' || lookup.urls.length === 0) return undefined;
  return lookup.urls[index % lookup.urls.length];
}

export async function findBaseline(
  event: HookEvent,
  deps: { readonly ecs: ECSClient; readonly clusterArn: string; readonly containerPort?: number },
): Promise<BaselineLookup> {
  if (deps.containerPort === undefined) {
    return { kind: 'none', reason: 'the hook has no container port configured: fixed limits only' };
  }
  const serving = servingRevision(event);
  if (!serving) return { kind: 'none', reason: 'first deploy: no revision serves production traffic yet' };
  const target = event.executionDetails.targetServiceRevisionArn;
  const revisions = await deps.ecs.send(
    new DescribeServiceRevisionsCommand({ serviceRevisionArns: [serving, target] }),
  );
  const taskDefinitionOf = (arn: string) =>
    revisions.serviceRevisions?.find((r) => r.serviceRevisionArn === arn)?.taskDefinition;
  const servingTd = taskDefinitionOf(serving);
  if (!servingTd) return { kind: 'none', reason: `the serving revision ${serving} could not be described` };
  if (servingTd === taskDefinitionOf(target)) {
    return {
      kind: 'none',
      reason: 'the serving revision runs the same task definition (a redeploy): nothing to compare',
    };
  }
  const listed = await deps.ecs.send(
    new ListTasksCommand({
      cluster: deps.clusterArn,
      serviceName: serviceNameOf(event.executionDetails.serviceArn),
      desiredStatus: 'RUNNING',
    }),
  );
  const arns = listed.taskArns ?? [];
  if (arns.length === 0) return { kind: 'none', reason: 'the service has no running task' };
  const described = await deps.ecs.send(
    new DescribeTasksCommand({ cluster: deps.clusterArn, tasks: arns.slice(0, 100) }),
  );
  const urls = (described.tasks ?? [])
    .filter((t) => t.taskDefinitionArn === servingTd && t.lastStatus === 'RUNNING' && t.healthStatus !== 'UNHEALTHY')
    .map(taskAddress)
    .filter((ip): ip is string => ip !== undefined)
    .sort()
    .map((ip) => `http://${ip}:${deps.containerPort}`);
  if (urls.length === 0) return { kind: 'none', reason: `no running, healthy task of the serving revision ${serving}` };
  return { kind: 'found', revisionArn: serving, taskDefinitionArn: servingTd, urls };
}
