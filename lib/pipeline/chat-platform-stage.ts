import { type CfnOutput, Stage, type StageProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { buildChatPlatform, type ChatPlatformStacks } from '../chat-platform';
import type { StageConfig } from '../config';
import { gateClientSecretName } from '../constructs/identity-provider';
import type { ServiceStack } from '../stacks/service-stack';

export interface ChatPlatformStageProps extends StageProps {
  readonly config: StageConfig;
  /** The version this synth deploys: APP_VERSION in the task definition and the in-AWS gate's expectation. */
  readonly appVersion: string;
}

/**
 * One stage's stacks, built by the same `buildChatPlatform` as `cdk deploy -c stage=<name>`, as a
 * unit the pipeline deploys. Stacks inside a `Stage` are named `<stage id>-<stack id>`, so the ID
 * is a public contract like the stack IDs: renaming it deploys a second copy of the stage.
 */
export class ChatPlatformStage extends Stage {
  readonly config: StageConfig;
  readonly stacks: ChatPlatformStacks;
  readonly service: ServiceStack;
  /** The production URL (scheme, host, production port) the post-deploy gate targets. */
  readonly serviceUrl: CfnOutput;
  /** How the post-deploy gate authenticates: the token endpoint output and the client secret's name. */
  readonly gateAuth?: { readonly tokenUrl: CfnOutput; readonly secretName: string; readonly scope?: string };

  constructor(scope: Construct, id: string, props: ChatPlatformStageProps) {
    super(scope, id, { ...props, env: { account: props.config.env.account, region: props.config.env.region } });
    this.config = props.config;
    this.stacks = buildChatPlatform(this, props.config, { appVersion: props.appVersion });
    this.service = this.stacks.service;
    this.serviceUrl = this.stacks.service.serviceUrlOutput;
    const tokenUrl = this.stacks.service.gateTokenUrlOutput;
    const secretName = gateClientSecretName(props.config, props.config.auth);
    const tokenScope = this.stacks.service.identity.gateClient?.scope;
    if (tokenUrl && secretName) {
      this.gateAuth = { tokenUrl, secretName, ...(tokenScope ? { scope: tokenScope } : {}) };
    }
  }
}
