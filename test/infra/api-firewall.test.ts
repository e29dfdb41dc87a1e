/**
 * The WAF WebACL in front of the chat API, in every stage: a per-IP rate rule from the stage config,
 * the managed groups Common, KnownBadInputs and Amazon IP reputation, a log without bearer tokens,
 * and an exemption that keeps the k6 gate (which runs inside the VPC) out of every rule.
 */

import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { STAGES, type StageName } from '../../lib/config';
import { ApiFirewall } from '../../lib/constructs/api-firewall';
import { synthStage } from '../support/cdk';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON.
type Json = any;

describe.each(['dev', 'staging', 'prod'] as StageName[])('%s: the WebACL on the load balancer', (stage) => {
  const platform = synthStage(stage);
  const service = platform.template(platform.stacks.service);
  const network = platform.template(platform.stacks.network);
  const config = STAGES[stage];
  const acl = (): Json => Object.values(service.findResources('AWS::WAFv2::WebACL'))[0] as Json;
  const rule = (name: string): Json => acl().Properties.Rules.find((r: Json) => r.Name === name);

  test('is associated with the service load balancer, regional, allowing by default', () => {
    expect(Object.keys(service.findResources('AWS::WAFv2::WebACL'))).toHaveLength(1);
    expect(acl().Properties).toMatchObject({ Scope: 'REGIONAL', DefaultAction: { Allow: {} } });
    const lb = Object.keys(service.findResources('AWS::ElasticLoadBalancingV2::LoadBalancer'))[0];
    service.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { ResourceArn: { Ref: lb } });
  });

  test('blocks one IP above the stage config rate limit per 5 minutes', () => {
    expect(rule('RatePerIp')).toMatchObject({
      Action: { Block: {} },
      Statement: {
        RateBasedStatement: {
          AggregateKeyType: 'IP',
          EvaluationWindowSec: 300,
          Limit: config.ingress.firewall.requestsPerIpPerFiveMinutes,
        },
      },
    });
  });

  test('runs the managed groups Common, KnownBadInputs and Amazon IP reputation', () => {
    for (const group of [
      'AWSManagedRulesCommonRuleSet',
      'AWSManagedRulesKnownBadInputsRuleSet',
      'AWSManagedRulesAmazonIpReputationList',
    ]) {
      expect(rule(group)?.Statement.ManagedRuleGroupStatement).toMatchObject({ VendorName: 'AWS', Name: group });
    }
  });

  test('a valid chat request up to the service limit (32 KiB) is not blocked for its size or its markup', () => {
    const overrides = rule('AWSManagedRulesCommonRuleSet').Statement.ManagedRuleGroupStatement.RuleActionOverrides;
    expect(overrides).toEqual(
      expect.arrayContaining([
        { Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } },
        { Name: 'CrossSiteScripting_BODY', ActionToUse: { Count: {} } },
      ]),
    );
  });

  test('the k6 gate is exempt: the first rule allows the VPC CIDR, where the runner calls the ALB from', () => {
    const first = [...acl().Properties.Rules].sort((a: Json, b: Json) => a.Priority - b.Priority)[0];
    expect(first.Action).toEqual({ Allow: {} });
    const setId = first.Statement.IPSetReferenceStatement.Arn['Fn::GetAtt'][0];
    const ipSet = service.toJSON().Resources[setId];
    expect(ipSet.Properties.Addresses).toEqual([config.network.cidr]);
    // The VPC really has that CIDR, so the runner's private address is inside it.
    network.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: config.network.cidr });
  });

  test('logs to CloudWatch with a retention, and never logs the bearer token', () => {
    service.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: Match.stringLikeRegexp('^aws-waf-logs-'),
      RetentionInDays: config.logRetentionDays,
    });
    service.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [{ SingleHeader: { Name: 'authorization' } }],
    });
  });
});

test('a rate limit WAF cannot enforce is refused at synth, naming the value and the minimum', () => {
  const stack = new Stack(new App(), 'T');
  expect(
    () =>
      new ApiFirewall(stack, 'F', {
        name: 'x',
        loadBalancerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/y',
        requestsPerIpPerFiveMinutes: 5,
        trustedSourceCidrs: ['10.0.0.0/16'],
        logRetention: logs.RetentionDays.ONE_WEEK,
      }),
  ).toThrow(/requestsPerIpPerFiveMinutes is 5: .* at least 10/);
});
