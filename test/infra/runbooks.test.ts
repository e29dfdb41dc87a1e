import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { STAGE_NAMES } from '../../lib/config';
import { ALL_ALARM_IDS, alarmInstances } from '../../lib/monitoring/alarm-catalogue';
import type { AlarmId } from '../../lib/monitoring/alarm-names';
import { RUNBOOK_DIR, RUNBOOK_SECTIONS } from '../../lib/monitoring/runbooks';
import { synthMonitoredStage } from './monitoring.fixture';

const ROOT = join(__dirname, '../..');
const files = readdirSync(join(ROOT, RUNBOOK_DIR)).filter((f) => f.endsWith('.md'));
const runbook = (id: string) => readFileSync(join(ROOT, RUNBOOK_DIR, `${id}.md`), 'utf8');

/** The runbook split at its `## ` headings: title → body. */
function sections(text: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const chunk of text.split(/^## /m).slice(1)) {
    const [heading, ...body] = chunk.split('\n');
    result.set(heading.trim(), body.join('\n'));
  }
  return result;
}

const bashBlocks = (text: string) => [...text.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);

describe('one runbook per alarm, one alarm per runbook', () => {
  test('every alarm ID has docs/runbooks/<id>.md', () => {
    const missing = ALL_ALARM_IDS.filter((id) => !files.includes(`${id}.md`));
    expect(missing).toEqual([]);
  });

  test('every runbook belongs to an alarm ID', () => {
    const orphans = files.filter((f) => !(ALL_ALARM_IDS as readonly string[]).includes(f.replace(/\.md$/, '')));
    expect(orphans).toEqual([]);
  });

  test.each(STAGE_NAMES)('every alarm synthesized for %s links a runbook that exists', (stage) => {
    const { template, serviceTemplate, config } = synthMonitoredStage(stage);
    // The deployment alarms are in the Service stack (the ECS service names them), the rest here.
    const alarms = [template, serviceTemplate].flatMap((t) => [
      ...Object.values(t.findResources('AWS::CloudWatch::Alarm')),
      ...Object.values(t.findResources('AWS::CloudWatch::CompositeAlarm')),
    ]);
    const links = alarms.map((r) => {
      const match = /\r\nRunbook: docs\/runbooks\/([a-z0-9-]+)\.md$/.exec(r.Properties.AlarmDescription);
      return { alarm: r.Properties.AlarmName as string, runbook: match?.[1] };
    });
    expect(links).toHaveLength(alarmInstances(config).length);
    for (const { alarm, runbook: id } of links) {
      expect({ alarm, hasRunbook: id !== undefined && files.includes(`${id}.md`) }).toEqual({
        alarm,
        hasRunbook: true,
      });
    }
  });
});

describe.each(ALL_ALARM_IDS.map((id) => [id]))('runbook %s', (id: AlarmId) => {
  const text = files.includes(`${id}.md`) ? runbook(id) : '';
  const parts = sections(text);

  test('is titled with its alarm ID and names its alarm', () => {
    expect(text.split('\n')[0]).toMatch(new RegExp(`^# ${id}: \\S`));
    expect(text).toContain(`\`chat-<stage>-${id}`);
  });

  test('has the required sections, in order, none empty', () => {
    expect([...parts.keys()]).toEqual([...RUNBOOK_SECTIONS]);
    for (const [heading, body] of parts)
      expect({ heading, empty: body.trim() === '' }).toEqual({ heading, empty: false });
  });

  test('first checks are copy-paste commands for the stage, starting with the logs', () => {
    const checks = parts.get('First checks') ?? '';
    const commands = bashBlocks(checks).join('\n');
    expect(commands).toMatch(/export AWS_REGION=\S+ STAGE=prod/);
    expect(commands).toContain('aws logs tail');
    if (/^(service|app|gate)-/.test(id)) {
      expect(commands).toMatch(/aws ecs describe-services|aws elbv2 describe-target-health/);
    }
    if (id.startsWith('db-')) {
      expect(commands).toContain('aws cloudwatch get-metric-statistics');
      expect(commands).toMatch(/--namespace (AWS\/RDS|ChatPlatform\/Database)/);
      expect(commands).toContain('chat-$STAGE-db');
    }
    if (id.startsWith('cache-')) {
      expect(commands).toContain('aws cloudwatch get-metric-statistics --namespace AWS/ElastiCache');
      expect(commands).toContain('chat-$STAGE-cache-');
    }
  });

  test('mitigations include rolling back the version', () => {
    expect(parts.get('Mitigations')).toMatch(/\*\*Roll back the version\.\*\*/);
    expect(parts.get('Mitigations')).toContain('aws ecs stop-service-deployment');
  });
});

describe('credential re-sync is in every runbook where credentials can be the cause', () => {
  const DB = '**Re-sync the database credentials.**';
  const CACHE = '**Re-sync the cache AUTH token.**';
  test.each([
    ['app-auth-failures', [DB, CACHE]],
    ['db-auth-failures', [DB]],
    ['cache-auth-failures', [CACHE]],
    ['service-5xx-rate', [DB, CACHE]],
    ['service-unhealthy-hosts', [DB, CACHE]],
    ['service-tasks-below-desired', [DB, CACHE]],
    ['service-degraded', [DB, CACHE]],
    ['app-cache-unavailable', [CACHE]],
    ['app-cache-hit-rate', [CACHE]],
    ['app-db-errors', [DB]],
    ['gate-failed', [DB]],
  ] as const)('%s', (id, procedures) => {
    const mitigations = sections(runbook(id)).get('Mitigations') ?? '';
    for (const p of procedures) expect(mitigations).toContain(p);
  });
});

describe("the seeds' failure modes appear in the runbook of every alarm that would fire for them", () => {
  test.each([
    [
      'wrong database password',
      [
        'app-auth-failures',
        'db-auth-failures',
        'service-unhealthy-hosts',
        'service-tasks-below-desired',
        'app-db-errors',
        'gate-failed',
        'service-degraded',
      ],
    ],
    [
      'missing cache AUTH token',
      [
        'app-auth-failures',
        'cache-auth-failures',
        'app-cache-unavailable',
        'service-unhealthy-hosts',
        'service-tasks-below-desired',
        'service-degraded',
      ],
    ],
    ['cache silently disabled', ['app-cache-hit-rate', 'app-cache-unavailable', 'service-degraded']],
    ['every request 500', ['service-5xx-rate', 'service-unhealthy-hosts', 'gate-failed', 'service-degraded']],
  ] as const)('%s', (failure, ids) => {
    for (const id of ids) {
      expect({ id, mentions: runbook(id).toLowerCase().includes(failure.toLowerCase()) }).toEqual({
        id,
        mentions: true,
      });
    }
  });
});

describe('runbook commands name real resources', () => {
  // Every string of every synthesized prod template (and the stack names): the names the runbooks
  // use must be among them, so a renamed resource breaks this test instead of a 3 a.m. command.
  const prod = synthMonitoredStage('prod');
  const known = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === 'string') known.add(value);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  for (const stack of prod.app.node.children.filter((c): c is Stack => Stack.isStack(c))) {
    known.add(stack.stackName);
    walk(prod.app.synth().getStackByName(stack.stackName).template);
  }

  const used = new Set<string>();
  for (const id of ALL_ALARM_IDS) {
    for (const block of bashBlocks(runbook(id))) {
      for (const m of block.matchAll(
        /"?((?:\/[a-z0-9-]+)*\/?chat-\$STAGE[a-zA-Z0-9/-]*|\/chat\/\$STAGE\/[a-z0-9-]+)/g,
      )) {
        const name = m[1].replaceAll('$STAGE', 'prod');
        if (!name.endsWith('-')) used.add(name);
      }
    }
  }

  test.each([...used].sort().map((n) => [n]))('%s exists in the prod templates', (name) => {
    expect(known.has(name)).toBe(true);
  });
});
