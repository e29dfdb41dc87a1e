/**
 * Synthesizes a whole stage the way `bin/app.ts` does (same feature flags from cdk.json, cdk-nag
 * attached), with Lambda bundling skipped. Results are memoised per stage within a test file,
 * because a full synth takes seconds.
 */
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import cdkJson from '../../cdk.json';
import { buildChatPlatform, type ChatPlatformStacks } from '../../lib/chat-platform';
import { STAGES, type StageConfig, type StageName, validateStageConfig } from '../../lib/config';

export const TEST_APP_VERSION = '9.9.9-test';

export interface SynthesizedPlatform {
  readonly app: App;
  readonly config: StageConfig;
  readonly stacks: ChatPlatformStacks;
  readonly allStacks: Stack[];
  template(stack: Stack): Template;
}

export function synthConfig(config: StageConfig): SynthesizedPlatform {
  const { stage: _stage, ...flags } = cdkJson.context;
  const app = new App({ context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
  const stacks = buildChatPlatform(app, validateStageConfig(config), { appVersion: TEST_APP_VERSION });
  Aspects.of(app).add(new AwsSolutionsChecks({ logIgnores: true }));
  app.synth();
  const templates = new Map<Stack, Template>();
  return {
    app,
    config,
    stacks,
    allStacks: app.node.children.filter((c): c is Stack => Stack.isStack(c)),
    template(stack: Stack) {
      let t = templates.get(stack);
      if (!t) {
        t = Template.fromStack(stack);
        templates.set(stack, t);
      }
      return t;
    },
  };
}

const memo = new Map<StageName, SynthesizedPlatform>();
export function synthStage(stage: StageName): SynthesizedPlatform {
  let s = memo.get(stage);
  if (!s) {
    s = synthConfig(STAGES[stage]);
    memo.set(stage, s);
  }
  return s;
}

/** A deep copy of a stage config with some fields replaced, for validation tests. */
export function withOverrides(stage: StageName, mutate: (c: Mutable<StageConfig>) => void): StageConfig {
  const copy = structuredClone(STAGES[stage]) as Mutable<StageConfig>;
  mutate(copy);
  return copy;
}

export type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
