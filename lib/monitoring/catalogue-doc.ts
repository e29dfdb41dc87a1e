/**
 * Renders the alarm catalogue of docs/monitoring.md from the alarm policies and the stage configs,
 * so the document cannot drift from the alarms. One of the blocks `npm run docs` writes
 * (scripts/docs.ts).
 */
import { STAGE_NAMES, STAGES, type StageConfig } from '../config';
import { ALARM_POLICIES, type AlarmPolicy, cacheNodes, evaluationOf, SERVICE_DEGRADED } from './alarm-catalogue';

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** `a` when every stage agrees, else `dev: a; staging: b; prod: c`. */
function perStage(render: (config: StageConfig) => string, configs: readonly StageConfig[]): string {
  const values = configs.map(render);
  if (values.every((v) => v === values[0])) return values[0];
  return configs.map((c, i) => `${c.stage}: ${values[i]}`).join('; ');
}

function nameOf(policy: AlarmPolicy): string {
  const base = `<app>-<stage>-${policy.id}`;
  return policy.scope === 'stage' ? base : `${base}-<node>`;
}

function evaluationText(policy: AlarmPolicy, configs: readonly StageConfig[]): string {
  return perStage((c) => {
    const { datapointsToAlarm: m, evaluationPeriods: n } = evaluationOf(c, policy.evaluation);
    return `${m} of ${n} × ${c.monitoring.periodMinutes} min`;
  }, configs);
}

function scopeText(policy: AlarmPolicy, configs: readonly StageConfig[]): string {
  if (policy.scope === 'stage') return 'one';
  return perStage((c) => {
    const replicated = c.cache.replicasPerNodeGroup >= 1;
    if (policy.scope === 'cache-node-if-replicated' && !replicated) return 'none (no replica)';
    return `${cacheNodes(c).length} (one per node)`;
  }, configs);
}

export function renderAlarmCatalogue(configs: readonly StageConfig[] = STAGE_NAMES.map((s) => STAGES[s])): string {
  const lines = [
    '| Alarm | What is wrong | Metric | Threshold | Evaluation | Missing data | Alarms per stage | Page | Rolls back | Built with | Runbook |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const policy of ALARM_POLICIES.values()) {
    lines.push(
      `| ${[
        `\`${nameOf(policy)}\``,
        policy.title,
        policy.metric,
        perStage((c) => policy.thresholdText(c), configs),
        evaluationText(policy, configs),
        policy.missingDataReason,
        scopeText(policy, configs),
        policy.pages ? 'yes' : 'no',
        policy.rollsBack ? 'yes' : 'no',
        policy.implementedBy,
        `[${policy.id}.md](runbooks/${policy.id}.md)`,
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  }
  const rule = SERVICE_DEGRADED.members.map((id) => `ALARM(<app>-<stage>-${id})`).join(' OR ');
  lines.push(
    `| ${[
      `\`<app>-<stage>-${SERVICE_DEGRADED.id}\``,
      SERVICE_DEGRADED.title,
      `composite: ${rule}`,
      '—',
      'as its members',
      'n/a (a composite alarm has no data of its own)',
      'one',
      'yes',
      'no',
      'cdk-monitoring-constructs (composite by tag)',
      `[${SERVICE_DEGRADED.id}.md](runbooks/${SERVICE_DEGRADED.id}.md)`,
    ]
      .map(cell)
      .join(' | ')} |`,
  );
  return lines.join('\n');
}
