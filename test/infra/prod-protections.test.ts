/**
 * What a prod stage keeps when someone deletes or replaces its stacks, proven on the synthesized
 * templates (the same templates `cdk deploy` and the pipeline deploy).
 */
import type { StageName } from '../../lib/config';
import { synthStage } from '../support/cdk';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON.
type Json = any;

const logGroups = (stage: StageName): Array<[string, Json]> => {
  const platform = synthStage(stage);
  return platform.allStacks.flatMap((stack) =>
    Object.entries(platform.template(stack).findResources('AWS::Logs::LogGroup')).map(
      ([id, r]) => [`${stack.stackName}/${id}`, r] as [string, Json],
    ),
  );
};

test('every prod log group is retained when its stack is deleted or the group is replaced', () => {
  const groups = logGroups('prod');
  // Flow logs, tasks, the k6 runner, Lambdas, the database's exports, the cache's logs, WAF.
  expect(groups.length).toBeGreaterThanOrEqual(8);
  const notRetained = groups
    .filter(([, r]) => r.DeletionPolicy !== 'Retain' || r.UpdateReplacePolicy !== 'Retain')
    .map(([id]) => id);
  expect(notRetained).toEqual([]);
});

test('dev log groups are deleted with their stack, so a throwaway stage leaves nothing behind', () => {
  const retained = logGroups('dev')
    .filter(([, r]) => r.DeletionPolicy === 'Retain')
    .map(([id]) => id);
  expect(retained).toEqual([]);
});

describe('prod load balancer and stacks', () => {
  const prod = synthStage('prod');
  const service = prod.template(prod.stacks.service);
  const lbAttributes = (): Record<string, string> => {
    const [lb] = Object.values(service.findResources('AWS::ElasticLoadBalancingV2::LoadBalancer')) as Json[];
    return Object.fromEntries(lb.Properties.LoadBalancerAttributes.map((a: Json) => [a.Key, a.Value]));
  };

  test('the load balancer has deletion protection', () => {
    expect(lbAttributes()['deletion_protection.enabled']).toBe('true');
  });

  test('X-Forwarded-For processing is pinned to append, the one hop the service trusts', () => {
    expect(lbAttributes()['routing.http.xff_header_processing.mode']).toBe('append');
    expect(lbAttributes()['routing.http.drop_invalid_header_fields.enabled']).toBe('true');
  });

  test('the HTTPS listener pins a TLS 1.3/1.2 policy with forward-secret ciphers only', () => {
    service.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Protocol: 'HTTPS',
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-Res-2021-06',
    });
  });

  test('network, data and service stacks have termination protection (cdk deploy path)', () => {
    for (const stack of [prod.stacks.network, prod.stacks.data, prod.stacks.service]) {
      expect({ stack: stack.stackName, protected: stack.terminationProtection }).toEqual({
        stack: stack.stackName,
        protected: true,
      });
    }
  });
});

test('dev can be torn down: no load balancer deletion protection, no termination protection', () => {
  const dev = synthStage('dev');
  const [lb] = Object.values(
    dev.template(dev.stacks.service).findResources('AWS::ElasticLoadBalancingV2::LoadBalancer'),
  ) as Json[];
  const attrs = Object.fromEntries(lb.Properties.LoadBalancerAttributes.map((a: Json) => [a.Key, a.Value]));
  expect(attrs['deletion_protection.enabled']).toBe('false');
  expect([dev.stacks.network, dev.stacks.service].map((s) => s.terminationProtection)).toEqual([false, false]);
});
