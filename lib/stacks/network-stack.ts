import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { physicalName, type StageConfig } from '../config';
import { ChatVpc } from '../constructs/chat-vpc';

export interface NetworkStackProps extends StackProps {
  readonly config: StageConfig;
}

/**
 * Network: the VPC and the service's security group. The security group lives here, not in the
 * Service stack, because the Data stack's ingress rules name it: Data admits only the service, and
 * Service depends on Data, so the group must come from a stack both can reference.
 */
export class NetworkStack extends Stack {
  readonly vpc: ec2.IVpc;
  /** Attached to the chat API's tasks; the only group Postgres and the cache accept. */
  readonly serviceSecurityGroup: ec2.ISecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.vpc = new ChatVpc(this, 'Network', {
      network: config.network,
      logRetentionDays: config.logRetentionDays,
    }).vpc;

    this.serviceSecurityGroup = new ec2.SecurityGroup(this, 'ServiceSecurityGroup', {
      vpc: this.vpc,
      securityGroupName: physicalName(config, 'service'),
      description: `${physicalName(config, 'api')} tasks: reach Postgres, the cache and the LLM provider`,
      // Tasks call an external LLM provider on 443 and AWS APIs; egress stays open, ingress is
      // granted by the ALB in the Service stack.
      allowAllOutbound: true,
    });
  }
}
