/**
 * The relative gate's AWS wiring: the runner (and only the runner, besides the load balancer) may
 * reach the service's tasks on the container port, the hook knows that port, and it may describe
 * this service's revisions to find the serving one.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { API_CONTAINER_PORT } from '../../lib/constructs/chat-api-task-definition';
import { HOOK_ENV } from '../../lib/contract';
import { synthStage } from '../support/cdk';

const prod = synthStage('prod');
const service = prod.template(prod.stacks.service);

test("the runner's security group is admitted to the service's tasks on the container port, and may leave for them", () => {
  const onPort = { FromPort: API_CONTAINER_PORT, ToPort: API_CONTAINER_PORT, IpProtocol: 'tcp' };
  const refersToRunner = (value: unknown) => /K6RunnerSecurityGroup/.test(JSON.stringify(value));
  const ingress = Object.values(service.findResources('AWS::EC2::SecurityGroupIngress', { Properties: onPort })).map(
    (r) => (r as { Properties: Record<string, unknown> }).Properties,
  );
  expect(ingress.filter((p) => refersToRunner(p.SourceSecurityGroupId))).toHaveLength(1);
  const egress = Object.values(service.findResources('AWS::EC2::SecurityGroupEgress', { Properties: onPort })).map(
    (r) => (r as { Properties: Record<string, unknown> }).Properties,
  );
  expect(egress.filter((p) => refersToRunner(p.GroupId))).toHaveLength(1);
});

test('the hook gets the container port, and may describe only this service revisions', () => {
  service.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ [HOOK_ENV.serviceContainerPort]: String(API_CONTAINER_PORT) }) },
  });
  service.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({
          Sid: 'FindTheServingRevision',
          Action: 'ecs:DescribeServiceRevisions',
          Resource: Match.objectLike({
            'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp(':service-revision/')])]),
          }),
        }),
      ]),
    },
  });
});
