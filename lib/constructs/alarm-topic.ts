import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { physicalName, type StageNaming } from '../config';

export interface AlarmTopicProps {
  /** Names the topic and its key `<app>-<stage>-alarms`. */
  readonly naming: StageNaming;
  /** Subscribed by e-mail; each address must confirm. An empty list is allowed outside prod. */
  readonly alarmEmails: readonly string[];
}

/**
 * The SNS topic every alarm notifies (ALARM and OK), encrypted with its own KMS key, with the
 * stage's e-mail subscriptions. Each address must confirm the subscription e-mail AWS sends.
 *
 * CloudWatch publishes to an encrypted topic only when the key policy lets it use the key, and
 * to a topic with its own policy only when that policy lets it publish; both grants are limited
 * to this account's alarms.
 */
export class AlarmTopic extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    const { naming } = props;
    const { account, region, partition } = Stack.of(this);
    const name = physicalName(naming, 'alarms');
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const fromThisAccountsAlarms = {
      StringEquals: { 'aws:SourceAccount': account },
      ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
    };

    this.key = new kms.Key(this, 'Key', {
      alias: `alias/${name}`,
      description: `${name}: encrypts the alarm notification topic`,
      enableKeyRotation: true,
      // Nothing is stored under this key for long: SNS only holds messages until delivery.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToTheEncryptedTopic',
        principals: [cloudwatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromThisAccountsAlarms,
      }),
    );

    this.topic = new sns.Topic(this, 'Topic', {
      topicName: name,
      displayName: `${naming.appName} ${naming.stage} alarms`,
      masterKey: this.key,
      enforceSSL: true,
    });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromThisAccountsAlarms,
      }),
    );

    for (const email of props.alarmEmails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
  }
}
