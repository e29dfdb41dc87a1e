import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { HEADERS } from '../contract';

export interface ApiFirewallProps {
  /** `<app>-<stage>-api-waf`: the WebACL's name, its metric name and its log group's suffix. */
  readonly name: string;
  /** The load balancer the WebACL protects (all of its listeners). */
  readonly loadBalancerArn: string;
  /**
   * Requests one client IP may send in any 5-minute window before WAF blocks it (WAF's minimum
   * is 10). A coarse flood guard in front of the service's own per-principal quotas.
   */
  readonly requestsPerIpPerFiveMinutes: number;
  /**
   * Sources exempt from every rule: the VPC's CIDR, so the k6 gate runner (which calls the load
   * balancer's private addresses from inside the VPC) is never rate-limited or blocked by a
   * managed rule. Nothing outside the VPC can originate these addresses.
   */
  readonly trustedSourceCidrs: readonly string[];
  readonly logRetention: logs.RetentionDays;
  /**
   * What happens to the WAF log group when the stack is deleted.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** WAF's lower bound for a rate-based rule's limit. */
const MIN_RATE_LIMIT = 10;

/**
 * The WAFv2 WebACL in front of the chat API: a per-IP rate-based rule and the AWS managed rule
 * groups Common, KnownBadInputs and Amazon IP reputation. Its log goes to CloudWatch with the
 * `Authorization` header redacted, so no bearer token reaches a log.
 *
 * Two rules of the Common group are counted instead of blocking, because they misjudge a chat API:
 * - `SizeRestrictions_BODY` blocks bodies over 8 KB. The service accepts messages up to its own
 *   32 KiB limit and answers 413 beyond it; WAF on an ALB inspects only the first 8 KB of a body,
 *   so it cannot enforce 32 KiB itself.
 * - `CrossSiteScripting_BODY` blocks bodies that contain markup. Users ask about code; the service
 *   never renders a message, it stores and forwards it as data.
 */
export class ApiFirewall extends Construct {
  /** The WebACL's name: the `WebACL` dimension of its CloudWatch metrics. */
  readonly name: string;
  readonly webAcl: wafv2.CfnWebACL;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ApiFirewallProps) {
    super(scope, id);
    this.name = props.name;
    if (!Number.isInteger(props.requestsPerIpPerFiveMinutes) || props.requestsPerIpPerFiveMinutes < MIN_RATE_LIMIT) {
      throw new Error(
        `requestsPerIpPerFiveMinutes is ${props.requestsPerIpPerFiveMinutes}: WAF needs a whole number of at least ${MIN_RATE_LIMIT}.`,
      );
    }
    const trusted = new wafv2.CfnIPSet(this, 'TrustedSources', {
      name: `${props.name}-trusted`,
      description: 'Addresses inside the VPC - the k6 gate runner - exempt from the WebACL rules',
      scope: 'REGIONAL',
      ipAddressVersion: 'IPV4',
      addresses: [...props.trustedSourceCidrs],
    });

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      name: props.name,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(props.name),
      rules: [
        {
          name: 'TrustedSources',
          priority: 0,
          statement: { ipSetReferenceStatement: { arn: trusted.attrArn } },
          action: { allow: {} },
          visibilityConfig: visibility(`${props.name}-trusted`),
        },
        {
          name: 'RatePerIp',
          priority: 1,
          statement: {
            rateBasedStatement: {
              limit: props.requestsPerIpPerFiveMinutes,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
            },
          },
          action: { block: {} },
          visibilityConfig: visibility(`${props.name}-rate`),
        },
        managedGroup('AWSManagedRulesAmazonIpReputationList', 2, props.name),
        managedGroup('AWSManagedRulesKnownBadInputsRuleSet', 3, props.name),
        managedGroup('AWSManagedRulesCommonRuleSet', 4, props.name, [
          'SizeRestrictions_BODY',
          'CrossSiteScripting_BODY',
        ]),
      ],
    });

    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.loadBalancerArn,
      webAclArn: this.webAcl.attrArn,
    });

    // WAF writes only to log groups whose name starts with `aws-waf-logs-`.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `aws-waf-logs-${props.name}`,
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    const logging = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // The log group's ARN without the `:*` suffix that `logGroupArn` carries.
      logDestinationConfigs: [
        Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: this.logGroup.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      redactedFields: [{ singleHeader: { Name: HEADERS.authorization } }],
    });
    logging.node.addDependency(this.logGroup);
  }
}

function visibility(metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty {
  return { cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}

function managedGroup(
  name: string,
  priority: number,
  aclName: string,
  countInstead: readonly string[] = [],
): wafv2.CfnWebACL.RuleProperty {
  return {
    name,
    priority,
    statement: {
      managedRuleGroupStatement: {
        vendorName: 'AWS',
        name,
        ...(countInstead.length === 0
          ? {}
          : { ruleActionOverrides: countInstead.map((rule) => ({ name: rule, actionToUse: { count: {} } })) }),
      },
    },
    overrideAction: { none: {} },
    visibilityConfig: visibility(`${aclName}-${name}`),
  };
}
