/**
 * Turns an alarm policy from the catalogue into cdk-monitoring-constructs alarm props, so alarms
 * the library builds (ECS, RDS, ElastiCache basics) and the hand-written ones (`monitorCustom`)
 * get the same fixed name, one-sentence description, runbook link, missing-data treatment and
 * evaluation, and nothing is left to a library default.
 */
import type {
  CustomAlarmThreshold,
  CustomMetricWithAlarm,
  CustomThreshold,
  MetricWithAlarmSupport,
} from 'cdk-monitoring-constructs';
import type { StageConfig } from '../config';
import { ALARM_POLICIES, type AlarmPolicy, evaluationOf } from './alarm-catalogue';
import { type AlarmId, alarmName, nodeAlarmName } from './alarm-names';
import { runbookLink } from './runbooks';

/** Tag of the alarms the composite `service-degraded` alarm is built from. */
export const PAGE_TAG = 'service-degraded';

export class AlarmWiring {
  constructor(readonly config: StageConfig) {}

  policy(id: AlarmId): AlarmPolicy {
    const policy = ALARM_POLICIES.get(id);
    if (!policy) throw new Error(`No alarm policy for '${id}' in lib/monitoring/alarm-catalogue.ts.`);
    return policy;
  }

  /** The CloudWatch alarm name of `id` (of its `node` for per-node alarms). */
  name(id: AlarmId, node?: string): string {
    return node === undefined ? alarmName(this.config, id) : nodeAlarmName(this.config, id, node);
  }

  /** Everything but the threshold, for a library alarm whose threshold field has its own name. */
  props(id: AlarmId, node?: string): CustomAlarmThreshold {
    const policy = this.policy(id);
    const { datapointsToAlarm, evaluationPeriods } = evaluationOf(this.config, policy.evaluation);
    return {
      alarmNameOverride: this.name(id, node),
      alarmDescriptionOverride: policy.sentence(this.config, node),
      runbookLink: runbookLink(this.config, id),
      comparisonOperatorOverride: policy.comparison,
      treatMissingDataOverride: policy.treatMissingData,
      datapointsToAlarm,
      evaluationPeriods,
      actionsEnabled: true,
      customTags: policy.pages ? [PAGE_TAG] : [],
    };
  }

  /** Props for a hand-written (`monitorCustom`) alarm. */
  custom(id: AlarmId, node?: string): CustomThreshold {
    const policy = this.policy(id);
    return { ...this.props(id, node), threshold: policy.threshold(this.config), comparisonOperator: policy.comparison };
  }

  /** A `monitorCustom` metric with its alarm: the metric is graphed and alarmed on. */
  alarmed(id: AlarmId, metric: MetricWithAlarmSupport, node?: string): CustomMetricWithAlarm {
    return { metric, alarmFriendlyName: this.name(id, node), addAlarm: { Critical: this.custom(id, node) } };
  }

  threshold(id: AlarmId): number {
    return this.policy(id).threshold(this.config);
  }
}
