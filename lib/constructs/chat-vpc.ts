import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { NetworkConfig } from '../config';

export interface ChatVpcProps {
  readonly network: NetworkConfig;
  readonly logRetentionDays: logs.RetentionDays;
}

/** Subnet group names. Tasks run in `app`; Postgres and the cache live in `data`, which has no route out. */
export const SUBNET_GROUPS = { public: 'public', app: 'app', data: 'data' } as const;

/**
 * The VPC: public subnets for the ALB, private-with-egress subnets for tasks, isolated subnets for
 * data, flow logs to CloudWatch, an S3 gateway endpoint (free; ECR layers come from S3) and, where
 * the stage enables them, interface endpoints for Secrets Manager, ECR and CloudWatch Logs.
 */
export class ChatVpc extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: ChatVpcProps) {
    super(scope, id);
    const { network } = props;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(network.cidr),
      availabilityZones: [...network.availabilityZones],
      natGateways: network.natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: SUBNET_GROUPS.public, subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: SUBNET_GROUPS.app, subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: SUBNET_GROUPS.data, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    if (network.interfaceEndpoints) {
      const services: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
        SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
        EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
        Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      };
      // One group for all endpoints: HTTPS from inside the VPC only (the CIDR as a literal, so
      // cdk-nag can check it).
      const endpointsSecurityGroup = new ec2.SecurityGroup(this, 'EndpointsSecurityGroup', {
        vpc: this.vpc,
        description: 'Interface endpoints: HTTPS from inside the VPC',
        allowAllOutbound: false,
      });
      endpointsSecurityGroup.addIngressRule(ec2.Peer.ipv4(network.cidr), ec2.Port.tcp(443), 'HTTPS from the VPC');
      for (const [name, service] of Object.entries(services)) {
        this.vpc.addInterfaceEndpoint(name, {
          service,
          privateDnsEnabled: true,
          subnets: { subnetGroupName: SUBNET_GROUPS.app },
          securityGroups: [endpointsSecurityGroup],
          open: false,
        });
      }
    }
  }
}
