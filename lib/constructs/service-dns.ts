import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';

export interface ServiceDnsProps {
  /** The API's DNS name, e.g. `chat.example.com`: the production URL's host and the gate's target. */
  readonly domainName: string;
  /** The public hosted zone that holds `domainName`. */
  readonly hostedZoneId: string;
  readonly hostedZoneName: string;
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
}

/**
 * An alias A record from the API's domain to the load balancer, the way aws-ecs-patterns'
 * load-balanced services create theirs. Without it `ServiceUrl` (and the pipeline's gate, which
 * calls it) would name a host that does not resolve.
 */
export class ServiceDns extends Construct {
  readonly record: route53.ARecord;

  constructor(scope: Construct, id: string, props: ServiceDnsProps) {
    super(scope, id);
    const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
      hostedZoneId: props.hostedZoneId,
      zoneName: props.hostedZoneName,
    });
    this.record = new route53.ARecord(this, 'Alias', {
      zone,
      recordName: props.domainName,
      target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(props.loadBalancer)),
    });
  }
}
