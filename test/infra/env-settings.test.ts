/**
 * Values are contract: for every integer variable of lib/contract/env.ts, the synth validation
 * accepts exactly the values the service's parser accepts (a property test over the contract's
 * integer entries, so a new entry is covered as soon as it exists), and the four ranges synth and
 * the service used to disagree on are refused at synth with the setting, the value and the range.
 */
import fc from 'fast-check';
import {
  ENV_SETTINGS,
  type EnvSetting,
  STAGES,
  type StageConfig,
  StageConfigError,
  settingField,
  validateStageConfig,
} from '../../lib/config';
import { API_CONTAINER_PORT } from '../../lib/constructs/chat-api-task-definition';
import { INTEGER_ENV_NAMES, type IntegerEnvName, inEnvRange, integerEnvSpec, SERVICE_ENV } from '../../lib/contract';
import { parseServiceConfig } from '../../service/src/config';
import { type Mutable, withOverrides } from '../support/cdk';

/** A complete, valid service environment; each property varies one variable of it. */
const SERVICE_BASE: Record<string, string> = {
  APP_VERSION: '1.2.3',
  DB_HOST: 'db.internal',
  DB_NAME: 'chat',
  DB_USERNAME: 'chat_app',
  DB_PASSWORD: 'db-password-value-123',
  REDIS_HOST: 'cache.internal',
  REDIS_AUTH_TOKEN: 'redis-token-value-456',
  LLM_BASE_URL: 'https://llm.example.com/v1',
  LLM_MODEL: 'gpt-4o-mini',
  LLM_API_KEY: 'llm-key-value-789',
  AUTH_ISSUER: 'https://issuer.example.com',
  AUTH_AUDIENCE: 'client-id',
};

const serviceAccepts = (name: IntegerEnvName, value: number): boolean =>
  parseServiceConfig({ ...SERVICE_BASE, [name]: String(value) }).ok;

const problemsOf = (config: StageConfig): readonly string[] => {
  try {
    validateStageConfig(config);
    return [];
  } catch (err) {
    if (err instanceof StageConfigError) return err.problems;
    throw err;
  }
};

/** The stage config with `field` (`service.llm.timeoutMs`) set to `value`. */
function withSetting(field: string, value: number): StageConfig {
  return withOverrides('dev', (c: Mutable<StageConfig>) => {
    const path = field.split('.');
    // biome-ignore lint/suspicious/noExplicitAny: a path walk over the typed config.
    const parent = path.slice(0, -1).reduce<any>((node, key) => node[key], c);
    parent[path[path.length - 1] as string] = value;
  });
}

/**
 * Numbers around both bounds, anywhere in a wide span, and what JSON or a typo can put in a config:
 * fractions, negatives, huge values, NaN and infinities.
 */
function candidates(name: IntegerEnvName): fc.Arbitrary<number> {
  const { min, max } = integerEnvSpec(name).range;
  return fc.oneof(
    fc.constantFrom(min - 1, min, min + 1, max - 1, max, max + 1, 0, -1, 0.5, min + 0.5, max + 0.5),
    fc.integer({ min: min - 1_000, max: min + 1_000 }),
    fc.integer({ min: max - 1_000, max: max + 1_000 }),
    fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }),
    fc.double({ min: -1e12, max: 1e12 }),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 1e21),
  );
}

describe('every integer variable: synth and the service accept the same values', () => {
  test('the contract has integer entries, each with a unit, a range that holds its default, and a reason', () => {
    expect(INTEGER_ENV_NAMES.length).toBeGreaterThanOrEqual(10);
    for (const name of INTEGER_ENV_NAMES) {
      const spec = integerEnvSpec(name);
      expect(spec.unit).toBeTruthy();
      expect(spec.range.why.length).toBeGreaterThan(10);
      expect(spec.range.min).toBeLessThanOrEqual(spec.range.max);
      expect(inEnvRange(name, Number(SERVICE_ENV[name].default))).toBe(true);
    }
  });

  test.each(INTEGER_ENV_NAMES.map((n) => [n]))('%s', (name) => {
    const setting: EnvSetting = ENV_SETTINGS[name];
    const field = settingField(setting);
    if (field === undefined) {
      // Set by the CDK app from code, never from a stage: that value must be one the service takes.
      expect(name).toBe('PORT');
      expect(serviceAccepts(name, API_CONTAINER_PORT)).toBe(true);
      return;
    }
    fc.assert(
      fc.property(candidates(name), (value) => {
        const problems = problemsOf(withSetting(field, value));
        if ('service' in setting) {
          // Exactly: any check of the value itself refuses it (the relations, which weigh one setting
          // against another, aside: they are tested in relations.test.ts).
          const refused = problems.some((p) => !p.startsWith('relation '));
          return refused === !serviceAccepts(name, value);
        }
        // AWS narrows the stage setting further: synth never accepts what the service refuses.
        return problems.length > 0 || serviceAccepts(name, value);
      }),
      { numRuns: 300 },
    );
  });

  test('the shipped stages set every service setting from the contract default or inside its range', () => {
    for (const config of Object.values(STAGES)) {
      expect(problemsOf(config).filter((p) => p.includes('is outside'))).toEqual([]);
    }
  });
});

describe('the ranges synth and the service disagreed on are refused at synth', () => {
  test.each([
    ['llm.contextBudgetTokens', 50, "LLM_CONTEXT_BUDGET_TOKENS's range 100–2000000 tokens"],
    ['cacheTtlSeconds', 3_000_000, "CACHE_TTL_SECONDS's range 60–2592000 s"],
    ['llm.timeoutMs', 700_000, "LLM_TIMEOUT_MS's range 1000–600000 ms"],
    ['rotationPollSeconds', 7_200, "ROTATION_POLL_SECONDS's range 1–3600 s"],
  ] as const)('service.%s = %d: the message names the setting, the value and the range', (path, value, range) => {
    const problems = problemsOf(withSetting(`service.${path}`, value));
    // The one problem with the value itself (a 10-minute LLM timeout breaks a relation too).
    const own = problems.filter((p) => !p.startsWith('relation '));
    expect(own).toEqual([expect.stringContaining(`service.${path} ${value} is outside ${range}: `)]);
    // And the service refuses the same value at start.
    const name = (Object.keys(ENV_SETTINGS) as IntegerEnvName[]).find(
      (n) => settingField(ENV_SETTINGS[n]) === `service.${path}`,
    ) as IntegerEnvName;
    expect(serviceAccepts(name, value)).toBe(false);
  });
});
