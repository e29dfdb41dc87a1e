/**
 * `ingress.domainName` promises a working URL: with the hosted zone it gets an alias record to the
 * load balancer, and ServiceUrl (the pipeline gate's target) uses the domain only then.
 */
import { STAGES, validateStageConfig } from '../../lib/config';
import { serviceUrl } from '../../lib/stacks/service-stack';
import { synthConfig, synthStage, withOverrides } from '../support/cdk';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON.
type Json = any;

const DOMAIN = { domainName: 'chat.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' };

test('with a domain and its hosted zone, an alias A record points the domain at the load balancer', () => {
  const config = withOverrides('staging', (c) => {
    c.ingress = { ...c.ingress, ...DOMAIN };
  });
  const platform = synthConfig(config);
  const service = platform.template(platform.stacks.service);
  const lb = Object.keys(service.findResources('AWS::ElasticLoadBalancingV2::LoadBalancer'))[0];
  const records = Object.values(service.findResources('AWS::Route53::RecordSet')) as Json[];
  expect(records).toHaveLength(1);
  expect(records[0].Properties).toMatchObject({
    Name: 'chat.example.com.',
    Type: 'A',
    HostedZoneId: DOMAIN.hostedZoneId,
  });
  expect(JSON.stringify(records[0].Properties.AliasTarget.DNSName)).toContain(lb);
  expect(serviceUrl(config, 'lb.example')).toBe(`http://chat.example.com:${config.ingress.productionPort}`);
});

test('without a domain there is no record, and ServiceUrl is the load balancer name', () => {
  const dev = synthStage('dev');
  expect(dev.template(dev.stacks.service).findResources('AWS::Route53::RecordSet')).toEqual({});
  expect(serviceUrl(STAGES.dev, 'lb.example')).toBe(`http://lb.example:${STAGES.dev.ingress.productionPort}`);
});

test('a domain without its hosted zone is refused: its URL would not resolve', () => {
  const config = withOverrides('dev', (c) => {
    c.ingress = { ...c.ingress, domainName: 'chat.example.com' };
  });
  expect(() => validateStageConfig(config)).toThrow(/set domainName, hostedZoneId and hostedZoneName together/);
});
