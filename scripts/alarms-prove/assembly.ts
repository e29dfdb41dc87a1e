/**
 * The cloud assembly the proof reads: a directory `cdk synth` wrote (`--assembly DIR`), or a stage
 * synthesized here the way `bin/app.ts` does (the same feature flags from cdk.json), with Lambda
 * bundling skipped because no alarm depends on a bundle.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import cdkJson from '../../cdk.json';
import { buildChatPlatform } from '../../lib/chat-platform';
import { STAGES, type StageName, validateStageConfig } from '../../lib/config';
import type { NamedTemplate } from '../../lib/monitoring/prove/template';

/** Synthesizes `stage` into a new temporary directory and returns it. */
export function synthesizeStage(stage: StageName, outdir?: string): string {
  const dir = outdir ?? mkdtempSync(path.join(tmpdir(), `alarms-prove-${stage}-`));
  const { stage: _stage, ...flags } = cdkJson.context;
  const app = new App({ outdir: dir, context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
  buildChatPlatform(app, validateStageConfig(STAGES[stage]), { appVersion: '9.9.9-alarms-prove' });
  app.synth();
  return dir;
}

/** Every CloudFormation template of the assembly (`*.template.json`, nested assemblies included). */
export function readTemplates(dir: string): NamedTemplate[] {
  const out: NamedTemplate[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name.startsWith('assembly-')) out.push(...readTemplates(full));
    else if (entry.isFile() && entry.name.endsWith('.template.json'))
      out.push({
        stackName: entry.name.replace(/\.template\.json$/, ''),
        template: JSON.parse(readFileSync(full, 'utf8')),
      });
  }
  return out;
}
