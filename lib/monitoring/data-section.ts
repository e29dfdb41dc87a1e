/**
 * Wiring for the data tier. cdk-monitoring-constructs covers RDS CPU and free storage and the
 * ElastiCache engine CPU and evictions per node; connections, memory, replication lag and
 * credential failures are hand-written (data-metrics.ts says why for each).
 */
import type { Duration } from 'aws-cdk-lib';
import type * as rds from 'aws-cdk-lib/aws-rds';
import { ElastiCacheClusterType, type MonitoringFacade } from 'cdk-monitoring-constructs';
import { physicalName } from '../config';
import { cacheNodes } from './alarm-catalogue';
import { ALARM_IDS } from './alarm-names';
import type { AlarmWiring } from './alarm-wiring';
import { CacheNodeMetrics, cacheAuthFailuresTotal, DatabaseMetrics, dbPasswordAuthFailures } from './data-metrics';

export interface DatabaseSectionProps {
  readonly wiring: AlarmWiring;
  readonly period: Duration;
  readonly instance: rds.IDatabaseInstance;
}

export function monitorDatabase(facade: MonitoringFacade, props: DatabaseSectionProps): void {
  const { wiring, period, instance } = props;
  const name = physicalName(wiring.config, 'db');
  const db = new DatabaseMetrics(instance.instanceIdentifier, period);

  facade.monitorRdsInstance({
    instance,
    alarmFriendlyName: name,
    humanReadableName: `${name}: RDS PostgreSQL`,
    addCpuUsageAlarm: {
      Critical: { ...wiring.props(ALARM_IDS.dbCpu), maxUsagePercent: wiring.threshold(ALARM_IDS.dbCpu) },
    },
    addFreeStorageSpaceAlarm: {
      Critical: { ...wiring.props(ALARM_IDS.dbFreeStorage), minCount: wiring.threshold(ALARM_IDS.dbFreeStorage) },
    },
  });

  facade.monitorCustom({
    alarmFriendlyName: `${name}-capacity`,
    humanReadableName: `${name}: connections, memory and password failures`,
    metricGroups: [
      { title: 'Connections (alarmed)', metrics: [wiring.alarmed(ALARM_IDS.dbConnections, db.connections())] },
      {
        title: 'Freeable memory bytes (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.dbFreeableMemory, db.freeableMemoryBytes())],
      },
      {
        title: 'Password authentication failures (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.dbAuthFailures, dbPasswordAuthFailures(name, period))],
      },
    ],
  });
}

export interface CacheSectionProps {
  readonly wiring: AlarmWiring;
  readonly period: Duration;
}

export function monitorCache(facade: MonitoringFacade, props: CacheSectionProps): void {
  const { wiring, period } = props;
  const { config } = wiring;
  const replicated = config.cache.replicasPerNodeGroup >= 1;
  const nodes = cacheNodes(config);
  const nodeMetrics = nodes.map(({ nodeId }) => new CacheNodeMetrics(nodeId, period));

  for (const [i, { node, nodeId }] of nodes.entries()) {
    const metrics = nodeMetrics[i];
    // Valkey publishes the Redis metric set, so the library's REDIS type fits both engines.
    facade.monitorElastiCacheCluster({
      clusterId: nodeId,
      clusterType: ElastiCacheClusterType.REDIS,
      alarmFriendlyName: nodeId,
      humanReadableName: `${nodeId}: ElastiCache ${config.cache.engine} node`,
      addRedisEngineCpuUsageAlarm: {
        Critical: {
          ...wiring.props(ALARM_IDS.cacheEngineCpu, node),
          maxUsagePercent: wiring.threshold(ALARM_IDS.cacheEngineCpu),
        },
      },
      addMaxEvictedItemsCountAlarm: {
        Critical: {
          ...wiring.props(ALARM_IDS.cacheEvictions, node),
          maxItemsCount: wiring.threshold(ALARM_IDS.cacheEvictions),
        },
      },
    });
    facade.monitorCustom({
      alarmFriendlyName: `${nodeId}-capacity`,
      humanReadableName: `${nodeId}: memory, connections${replicated ? ', replication lag' : ''}`,
      metricGroups: [
        {
          title: 'Memory used % (alarmed)',
          metrics: [wiring.alarmed(ALARM_IDS.cacheMemory, metrics.memoryUsagePercent(), node)],
        },
        {
          title: 'Connections (alarmed)',
          metrics: [wiring.alarmed(ALARM_IDS.cacheConnections, metrics.connections(), node)],
        },
        ...(replicated
          ? [
              {
                title: 'Replication lag s (alarmed; replicas only)',
                metrics: [wiring.alarmed(ALARM_IDS.cacheReplicationLag, metrics.replicationLagSeconds(), node)],
              },
            ]
          : []),
      ],
    });
  }

  facade.monitorCustom({
    alarmFriendlyName: `${physicalName(config, 'cache')}-auth`,
    humanReadableName: `${physicalName(config, 'cache')}: AUTH failures (all nodes)`,
    metricGroups: [
      {
        title: 'AUTH failures (alarmed)',
        metrics: [wiring.alarmed(ALARM_IDS.cacheAuthFailures, cacheAuthFailuresTotal(nodeMetrics, period))],
      },
    ],
  });
}
