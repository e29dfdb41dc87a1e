import { Match } from 'aws-cdk-lib/assertions';
import { synthStage } from '../support/cdk';

describe('network stack', () => {
  test('prod spans three AZs and dev two, each with public, app and data subnets', () => {
    for (const [stage, azs] of [
      ['prod', 3],
      ['dev', 2],
    ] as const) {
      const p = synthStage(stage);
      const subnets = Object.values(p.template(p.stacks.network).findResources('AWS::EC2::Subnet'));
      expect(subnets).toHaveLength(azs * 3);
      const zones = new Set(subnets.map((s) => s.Properties.AvailabilityZone));
      expect([...zones].sort()).toEqual([...p.config.network.availabilityZones].sort());
    }
  });

  test('data subnets have no route to the internet', () => {
    const p = synthStage('prod');
    const t = p.template(p.stacks.network);
    const routes = Object.values(t.findResources('AWS::EC2::Route'));
    const dataRouteTables = Object.keys(t.findResources('AWS::EC2::RouteTable')).filter((id) => /datasubnet/i.test(id));
    expect(dataRouteTables.length).toBe(3);
    for (const route of routes) {
      expect(dataRouteTables).not.toContain(route.Properties.RouteTableId.Ref);
    }
  });

  test('VPC flow logs go to CloudWatch with the stage retention', () => {
    const p = synthStage('prod');
    const t = p.template(p.stacks.network);
    t.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: p.config.logRetentionDays });
  });

  test('NAT gateways follow the stage config', () => {
    for (const stage of ['dev', 'prod'] as const) {
      const p = synthStage(stage);
      p.template(p.stacks.network).resourceCountIs('AWS::EC2::NatGateway', p.config.network.natGateways);
    }
  });

  test('S3 gateway endpoint always; interface endpoints only where the stage enables them', () => {
    const dev = synthStage('dev');
    const prod = synthStage('prod');
    const devT = dev.template(dev.stacks.network);
    const prodT = prod.template(prod.stacks.network);
    for (const t of [devT, prodT]) {
      t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }),
      });
    }
    expect(dev.config.network.interfaceEndpoints).toBe(false);
    expect(
      Object.keys(devT.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } })),
    ).toHaveLength(0);
    const interfaces = Object.values(
      prodT.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }),
    ).map((e) => JSON.stringify(e.Properties.ServiceName));
    expect(interfaces).toHaveLength(4);
    for (const service of ['secretsmanager', 'ecr.api', 'ecr.dkr', 'logs']) {
      expect(interfaces.some((s) => s.includes(`.${service}`))).toBe(true);
    }
  });

  test('interface endpoints accept HTTPS from inside the VPC only', () => {
    const prod = synthStage('prod');
    prod.template(prod.stacks.network).hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Interface endpoints: HTTPS from inside the VPC',
      SecurityGroupIngress: [
        {
          CidrIp: prod.config.network.cidr,
          FromPort: 443,
          ToPort: 443,
          IpProtocol: 'tcp',
          Description: Match.anyValue(),
        },
      ],
    });
  });
});
