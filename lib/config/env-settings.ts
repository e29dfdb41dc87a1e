/**
 * Where each integer variable of the service contract gets its value in a stage, so the synth
 * validation checks the stage setting against the contract's range (the one the service's parser
 * enforces at start) and the task definition writes the same setting into the environment.
 *
 * Typed as a total record over the contract's integer names: a new integer entry in
 * lib/contract/env.ts without a line here is a compile error, and the property test
 * (test/infra/env-settings.test.ts) then proves synth accepts exactly what the service accepts.
 */
import { envRangeText, INTEGER_ENV_NAMES, type IntegerEnvName, inEnvRange, integerEnvSpec } from '../contract';
import type { Problems } from './problems';
import type { ServiceSettings, StageConfig } from './stage-config';

export type EnvSetting =
  /** A field of `service` (ServiceSettings), written as is into the task environment. */
  | { readonly service: readonly string[] }
  /**
   * A field of the stage config that AWS narrows further (checked next to it in validate.ts): synth
   * accepts a subset of the contract's range, never a value outside it.
   */
  | { readonly stage: readonly string[]; readonly narrowedBy: string }
  /** Not a stage setting: the CDK app sets it from code. */
  | { readonly fixed: string };

export const ENV_SETTINGS = {
  PORT: { fixed: 'the container port: the contract default, which the target groups use too' },
  DB_PORT: { stage: ['database', 'port'], narrowedBy: 'RDS: 1150–65535' },
  REDIS_PORT: { stage: ['cache', 'port'], narrowedBy: 'ElastiCache: 1024–65535, never the default 6379' },
  LLM_TIMEOUT_MS: { service: ['llm', 'timeoutMs'] },
  CACHE_TTL_SECONDS: { service: ['cacheTtlSeconds'] },
  CACHE_SHARE_AFTER_PRINCIPALS: { service: ['cacheShareAfterPrincipals'] },
  RATE_LIMIT_PER_MINUTE: { service: ['rateLimitPerMinute'] },
  QUOTA_REQUESTS_PER_MINUTE: { service: ['quotas', 'requestsPerPrincipalPerMinute'] },
  QUOTA_GATE_REQUESTS_PER_MINUTE: { service: ['quotas', 'gateRequestsPerMinute'] },
  QUOTA_LLM_TOKENS_PER_MINUTE: { service: ['quotas', 'llmTokensPerPrincipalPerMinute'] },
  QUOTA_STORED_BYTES_PER_DAY: { service: ['quotas', 'storedBytesPerPrincipalPerDay'] },
  QUOTA_GATE_STORED_BYTES_PER_DAY: { service: ['quotas', 'gateStoredBytesPerDay'] },
  MESSAGE_RETENTION_DAYS: { service: ['messageRetentionDays'] },
  LLM_MAX_OUTPUT_TOKENS: { service: ['llm', 'maxOutputTokens'] },
  LLM_CONTEXT_BUDGET_TOKENS: { service: ['llm', 'contextBudgetTokens'] },
  ROTATION_POLL_SECONDS: { service: ['rotationPollSeconds'] },
  DRAIN_TIMEOUT_MS: { service: ['drainTimeoutMs'] },
  KEEP_ALIVE_TIMEOUT_SECONDS: { service: ['keepAliveTimeoutSeconds'] },
} as const satisfies { readonly [K in IntegerEnvName]: EnvSetting };

/** The integer names a `service` field sets. */
export type ServiceSettingEnvName = {
  [K in IntegerEnvName]: (typeof ENV_SETTINGS)[K] extends { readonly service: readonly string[] } ? K : never;
}[IntegerEnvName];

// biome-ignore lint/suspicious/noExplicitAny: a path walk over a typed config.
type Walkable = any;

/** The value at `path` under `root`. */
export function valueAt(root: object, path: readonly string[]): unknown {
  return path.reduce<Walkable>((node, key) => node?.[key], root);
}

/** The stage config path of a setting, as messages print it (`service.llm.timeoutMs`). */
export function settingField(setting: EnvSetting): string | undefined {
  if ('service' in setting) return ['service', ...setting.service].join('.');
  if ('stage' in setting) return setting.stage.join('.');
  return undefined;
}

/** The problem a value outside the contract's range makes: the setting, the value, the range and why. */
export function envRangeProblem(name: IntegerEnvName, field: string, value: unknown): string | undefined {
  if (typeof value === 'number' && inEnvRange(name, value)) return undefined;
  return `${field} ${String(value)} is outside ${name}'s range ${envRangeText(name)}: ${integerEnvSpec(name).range.why}.`;
}

/** Every stage setting of an integer variable must lie inside the contract's range. */
export function checkEnvRanges(problems: Problems, config: StageConfig): void {
  for (const name of INTEGER_ENV_NAMES) {
    const setting: EnvSetting = ENV_SETTINGS[name];
    const field = settingField(setting);
    if (field === undefined) continue;
    const problem = envRangeProblem(name, field, valueAt(config, field.split('.')));
    if (problem !== undefined) problems.add(problem);
  }
}

/** The task environment's values of the `service` integer settings. */
export function serviceSettingsEnvironment(service: ServiceSettings): Record<ServiceSettingEnvName, string> {
  const out: Partial<Record<ServiceSettingEnvName, string>> = {};
  for (const name of INTEGER_ENV_NAMES) {
    const setting: EnvSetting = ENV_SETTINGS[name];
    if ('service' in setting) out[name as ServiceSettingEnvName] = String(valueAt(service, setting.service));
  }
  return out as Record<ServiceSettingEnvName, string>;
}
