import { STAGE_NAMES } from '../../lib/config';
import { synthStage } from '../support/cdk';
import { scanTemplate } from '../support/secret-scan';

describe('no plaintext secret in any synthesized template', () => {
  test.each(STAGE_NAMES)('every %s template is clean', (stage) => {
    const platform = synthStage(stage);
    expect(platform.allStacks.length).toBeGreaterThanOrEqual(2);
    for (const stack of platform.allStacks) {
      const findings = scanTemplate(platform.template(stack).toJSON());
      expect({ stack: stack.stackName, findings }).toEqual({ stack: stack.stackName, findings: [] });
    }
  });
});

describe('the scanner finds what it is looking for', () => {
  test('a literal password, token or API key property', () => {
    const findings = scanTemplate({
      Resources: {
        Db: { Properties: { MasterUserPassword: 'hunter2hunter2' } },
        Cache: { Properties: { AuthToken: 'abcdefabcdefabcdef' } },
        Fine: { Properties: { MasterUserPassword: '{{resolve:secretsmanager:arn:SecretString:password::}}' } },
        AlsoFine: { Properties: { AuthToken: { Ref: 'SomeParameter' } } },
      },
    });
    expect(findings.map((f) => f.path)).toEqual([
      '$.Resources.Db.Properties.MasterUserPassword',
      '$.Resources.Cache.Properties.AuthToken',
    ]);
  });

  test('a secret-looking name in an ECS Environment or Lambda Variables', () => {
    const findings = scanTemplate({
      Resources: {
        Task: {
          Properties: {
            ContainerDefinitions: [
              {
                Environment: [
                  { Name: 'DB_PASSWORD', Value: 'x' },
                  { Name: 'REDIS_AUTH_TOKEN', Value: 'y' },
                  { Name: 'DB_SECRET_ARN', Value: 'arn:aws:secretsmanager:...' },
                  { Name: 'DB_HOST', Value: 'db' },
                ],
              },
            ],
          },
        },
        Fn: { Properties: { Environment: { Variables: { LLM_API_KEY: 'z', NODE_EXTRA_CA_CERTS: '/ca.pem' } } } },
      },
    });
    expect(findings.map((f) => f.path.split('.').pop())).toEqual(['DB_PASSWORD', 'REDIS_AUTH_TOKEN', 'LLM_API_KEY']);
  });

  test('literal credentials anywhere', () => {
    const findings = scanTemplate({ Outputs: { Leak: { Value: 'AKIAABCDEFGHIJKLMNOP' } } });
    expect(findings).toEqual([{ path: '$.Outputs.Leak.Value', problem: 'looks like an AWS access key id' }]);
  });
});
