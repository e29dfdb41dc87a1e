import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AlarmTopic } from '../../lib/constructs/alarm-topic';

describe('AlarmTopic on its own (naming and addresses, no stage config)', () => {
  const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
  new AlarmTopic(stack, 'AlarmTopic', {
    naming: { appName: 'demo', stage: 'staging' },
    alarmEmails: ['oncall@example.com', 'team@example.com'],
  });
  const template = Template.fromStack(stack);

  test('the topic is named after the stage and encrypted with its own rotated key', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      TopicName: 'demo-staging-alarms',
      DisplayName: 'demo staging alarms',
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/demo-staging-alarms' });
  });

  test('every address is subscribed by e-mail', () => {
    const endpoints = Object.values(template.findResources('AWS::SNS::Subscription')).map((s) => [
      s.Properties.Protocol,
      s.Properties.Endpoint,
    ]);
    expect(endpoints.sort()).toEqual([
      ['email', 'oncall@example.com'],
      ['email', 'team@example.com'],
    ]);
  });
});
