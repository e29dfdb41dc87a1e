/**
 * RDS for PostgreSQL's default `max_connections`, estimated from the instance class, so the
 * "connections near the limit" alarm has a limit to be near. Part of the stage config: validation
 * refuses a class it cannot estimate (unless `dbMaxConnections` is set), and the alarm reads it.
 *
 * RDS sets `max_connections = LEAST({DBInstanceClassMemory/9531392}, 5000)`.
 * `DBInstanceClassMemory` is the class's memory minus what RDS keeps for the OS and its own
 * processes, so the real value is below the nominal-memory result (about 112 on paper for a 1 GiB
 * class, noticeably less in practice). The estimate subtracts a fixed reserve so that it errs low:
 * an alarm at 80% of a low estimate fires a little early instead of after the limit is hit.
 * For an exact number, run `SHOW max_connections;` once and set
 * `monitoring.thresholds.dbMaxConnections` (also required when the parameter group overrides
 * `max_connections`).
 */

/** Bytes per connection in RDS's default formula. */
export const RDS_POSTGRES_BYTES_PER_CONNECTION = 9_531_392;
/** RDS's cap on the default. */
export const RDS_POSTGRES_MAX_CONNECTIONS_CAP = 5000;
/** Memory assumed unavailable to `DBInstanceClassMemory` (OS and RDS processes). */
export const RDS_RESERVED_MEMORY_MIB = 300;

const MIB = 1024 * 1024;

/** Memory in GiB of the burstable (`t`) sizes. */
const BURSTABLE_GIB: Readonly<Record<string, number>> = {
  micro: 1,
  small: 2,
  medium: 4,
  large: 8,
  xlarge: 16,
  '2xlarge': 32,
};

/** GiB per vCPU of the fixed-ratio families (`m*` general purpose, `r*` memory optimised). */
const GIB_PER_VCPU: Readonly<Record<string, number>> = { m: 4, r: 8 };

/** vCPUs of the `large`, `xlarge`, `<n>xlarge` sizes. */
function vcpusOf(size: string): number | undefined {
  if (size === 'large') return 2;
  if (size === 'xlarge') return 4;
  const multiple = /^(\d+)xlarge$/.exec(size);
  return multiple ? 4 * Number(multiple[1]) : undefined;
}

/**
 * Nominal memory of an RDS instance class (`t4g.micro`, `db.m7g.large`, `r6i.2xlarge`), in GiB;
 * `undefined` for a class this table does not know (then configure `dbMaxConnections`).
 */
export function instanceClassMemoryGiB(instanceType: string): number | undefined {
  const match = /^(?:db\.)?([tmr])(\d+)([a-z-]*)\.([a-z0-9]+)$/.exec(instanceType);
  if (!match) return undefined;
  const [, family, , , size] = match;
  if (family === 't') return BURSTABLE_GIB[size];
  const vcpus = vcpusOf(size);
  return vcpus === undefined ? undefined : vcpus * GIB_PER_VCPU[family];
}

/**
 * The `max_connections` the connection alarm measures against: `monitoring.thresholds.dbMaxConnections`
 * when set, else the estimate for the instance class (undefined when neither is known).
 */
export function configuredMaxConnections(config: {
  readonly database: { readonly instanceType: string };
  readonly monitoring: { readonly thresholds: { readonly dbMaxConnections?: number } };
}): number | undefined {
  return config.monitoring.thresholds.dbMaxConnections ?? estimateMaxConnections(config.database.instanceType);
}

/** The estimated default `max_connections` of the class, or `undefined` when the class is unknown. */
export function estimateMaxConnections(instanceType: string): number | undefined {
  const gib = instanceClassMemoryGiB(instanceType);
  if (gib === undefined) return undefined;
  const usableBytes = gib * 1024 * MIB - RDS_RESERVED_MEMORY_MIB * MIB;
  return Math.min(Math.floor(usableBytes / RDS_POSTGRES_BYTES_PER_CONNECTION), RDS_POSTGRES_MAX_CONNECTIONS_CAP);
}
