import {
  getStageConfig,
  resolveStageConfig,
  STAGE_NAMES,
  type StageConfig,
  StageConfigError,
  validateStageConfig,
} from '../../lib/config';
import { type Mutable, withOverrides } from '../support/cdk';

type M = Mutable<StageConfig>;

const problemsOf = (fn: () => unknown): readonly string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StageConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a StageConfigError');
};

describe('stage configs', () => {
  test.each(STAGE_NAMES)('the shipped %s config is valid', (stage) => {
    expect(() => validateStageConfig(getStageConfig(stage))).not.toThrow();
  });

  test('an unknown stage is an error that lists the known ones', () => {
    expect(() => getStageConfig('qa')).toThrow(/unknown stage 'qa'\. Known stages: dev, staging, prod/);
  });

  test('the account falls back to CDK_DEFAULT_ACCOUNT, the region always comes from the config', () => {
    const config = resolveStageConfig('dev', { account: '111122223333' });
    expect(config.env).toEqual({ account: '111122223333', region: getStageConfig('dev').env.region });
  });

  test('prod refuses a certificate from another account once the target account is known', () => {
    const problems = problemsOf(() => resolveStageConfig('prod', { account: '111122223333' }));
    expect(problems).toEqual([expect.stringMatching(/certificateArn belongs to another account than .*111122223333/)]);
  });

  test('dev and prod differ where safety matters', () => {
    const dev = getStageConfig('dev');
    const prod = getStageConfig('prod');
    expect(dev.database.multiAz).toBe(false);
    expect(prod.database.multiAz).toBe(true);
    expect(prod.database.deletionProtection).toBe(true);
    expect(prod.network.availabilityZones).toHaveLength(3);
    expect(dev.network.availabilityZones).toHaveLength(2);
    expect(prod.cache.replicasPerNodeGroup).toBeGreaterThanOrEqual(1);
    expect(dev.cache.engine).toBe('valkey');
  });
});

describe('prod cannot be configured into an unsafe state', () => {
  test.each([
    [
      'a single-AZ database',
      (c: M) => {
        c.database.multiAz = false;
      },
      /prod: database\.multiAz must be true/,
    ],
    [
      'no deletion protection',
      (c: M) => {
        c.database.deletionProtection = false;
      },
      /prod: database\.deletionProtection/,
    ],
    [
      'short backups',
      (c: M) => {
        c.database.backupRetentionDays = 1;
      },
      /prod: database\.backupRetentionDays must be >= 7/,
    ],
    ['two AZs', (c: M) => c.network.availabilityZones.pop(), /prod: network\.availabilityZones must list 3 AZs/],
    [
      'a cache without a replica',
      (c: M) => {
        c.cache.replicasPerNodeGroup = 0;
      },
      /prod: cache\.replicasPerNodeGroup/,
    ],
    [
      'plain HTTP',
      (c: M) => {
        c.ingress.allowHttp = true;
      },
      /prod: ingress\.allowHttp must be false/,
    ],
    [
      'no gate',
      (c: M) => {
        c.deployment.gate.enabled = false;
      },
      /prod: deployment\.gate\.enabled must be true/,
    ],
    [
      'nobody to page',
      (c: M) => {
        c.monitoring.alarmEmails = [];
      },
      /prod: monitoring\.alarmEmails/,
    ],
    [
      'one task',
      (c: M) => {
        c.service.minTaskCount = 1;
        c.service.desiredCount = 1;
      },
      /prod: service\.minTaskCount/,
    ],
  ])('synth fails with an actionable message for %s', (_name, mutate, message) => {
    const problems = problemsOf(() => validateStageConfig(withOverrides('prod', mutate)));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  test('every problem is reported at once, not one per synth', () => {
    const problems = problemsOf(() =>
      validateStageConfig(
        withOverrides('prod', (c) => {
          c.database.multiAz = false;
          c.database.deletionProtection = false;
        }),
      ),
    );
    expect(problems.length).toBe(2);
  });
});

describe('validation of any stage', () => {
  test.each([
    [
      'the default cache port',
      (c: M) => {
        c.cache.port = 6379;
      },
      /cache\.port must not be the default 6379/,
    ],
    [
      'AZs from another region',
      (c: M) => {
        c.network.availabilityZones = ['eu-west-1a', 'eu-west-1b'];
      },
      /is not in region/,
    ],
    [
      'a drain longer than the stop timeout',
      (c: M) => {
        c.service.drainTimeoutMs = 30_000;
      },
      /drainTimeoutMs .* must leave at least 1 s/,
    ],
    [
      'a canary step below 0.1%',
      (c: M) => {
        c.deployment.strategy = 'CANARY';
        c.deployment.canary = { canaryPercent: 0.05, canaryBakeTimeMinutes: 5 };
      },
      /canaryPercent 0\.05 must be 0\.1–100/,
    ],
    [
      'a canary strategy without settings',
      (c: M) => {
        c.deployment.strategy = 'CANARY';
      },
      /needs deployment\.canary/,
    ],
    [
      'a linear step above 100%',
      (c: M) => {
        c.deployment.strategy = 'LINEAR';
        c.deployment.linear = { stepPercent: 120, stepBakeTimeMinutes: 5 };
      },
      /stepPercent 120 must be 3–100/,
    ],
    [
      'a canary step ECS cannot express (not a multiple of 0.1)',
      (c: M) => {
        c.deployment.strategy = 'CANARY';
        c.deployment.canary = { canaryPercent: 12.25, canaryBakeTimeMinutes: 5 };
      },
      /canaryPercent 12\.25 must be a multiple of 0\.1/,
    ],
    [
      'a canary bake time in fractions of a minute',
      (c: M) => {
        c.deployment.strategy = 'CANARY';
        c.deployment.canary = { canaryPercent: 10, canaryBakeTimeMinutes: 2.5 };
      },
      /canaryBakeTimeMinutes 2\.5 must be whole minutes/,
    ],
    [
      'a linear strategy without settings',
      (c: M) => {
        c.deployment.strategy = 'LINEAR';
      },
      /needs deployment\.linear/,
    ],
    [
      'a linear step below 3%',
      (c: M) => {
        c.deployment.strategy = 'LINEAR';
        c.deployment.linear = { stepPercent: 2, stepBakeTimeMinutes: 5 };
      },
      /stepPercent 2 must be 3–100/,
    ],
    [
      'a linear step bake time over a day',
      (c: M) => {
        c.deployment.strategy = 'LINEAR';
        c.deployment.linear = { stepPercent: 25, stepBakeTimeMinutes: 1441 };
      },
      /stepBakeTimeMinutes 1441 must be 0–1440/,
    ],
    [
      'a fractional bake time',
      (c: M) => {
        c.deployment.bakeTimeMinutes = 7.5;
      },
      /bakeTimeMinutes 7\.5 must be whole minutes/,
    ],
    [
      'an unknown gate profile',
      (c: M) => {
        c.deployment.gate.profile = 'huge' as never;
      },
      /gate\.profile 'huge' is unknown/,
    ],
    [
      'a bake time over a day',
      (c: M) => {
        c.deployment.bakeTimeMinutes = 2000;
      },
      /bakeTimeMinutes 2000 must be 0–1440/,
    ],
    [
      'a percentage above 100',
      (c: M) => {
        c.monitoring.thresholds.serverErrorRatePercent = 150;
      },
      /serverErrorRatePercent 150 is a percentage/,
    ],
    [
      'an invalid log retention',
      (c: M) => {
        c.logRetentionDays = 10;
      },
      /logRetentionDays 10 is not a CloudWatch Logs retention/,
    ],
    [
      'no certificate and no explicit HTTP',
      (c: M) => {
        c.ingress.allowHttp = false;
      },
      /set certificateArn for HTTPS, or set allowHttp/,
    ],
  ])('rejects %s', (_name, mutate, message) => {
    const problems = problemsOf(() => validateStageConfig(withOverrides('dev', mutate)));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });
});

describe('monitoring settings are validated', () => {
  test.each([
    [
      'a rollback alarm slower than the bake time',
      (c: M) => {
        c.monitoring.symptomEvaluation = { datapointsToAlarm: 2, evaluationPeriods: 3 };
      },
      /symptomEvaluation needs 10 minutes of bad data to alarm, longer than deployment\.bakeTimeMinutes \(5\)/,
    ],
    [
      'more breaching datapoints than evaluated periods',
      (c: M) => {
        c.monitoring.saturationEvaluation = { datapointsToAlarm: 4, evaluationPeriods: 3 };
      },
      /saturationEvaluation: need whole numbers 1 <= datapointsToAlarm \(4\) <= evaluationPeriods \(3\)/,
    ],
    [
      'an evaluation window over a day',
      (c: M) => {
        c.monitoring.saturationEvaluation = { datapointsToAlarm: 3, evaluationPeriods: 300 };
      },
      /evaluationPeriods x periodMinutes is 1500 minutes; CloudWatch evaluates at most one day/,
    ],
    [
      'a rate alarm without a traffic guard',
      (c: M) => {
        c.monitoring.thresholds.minLlmCallsPerPeriod = 0;
      },
      /minLlmCallsPerPeriod must be >= 1/,
    ],
    [
      'an instance class whose connection limit cannot be estimated',
      (c: M) => {
        c.database.instanceType = 'x2g.large';
      },
      /dbMaxConnections is required: max_connections of database\.instanceType 'x2g\.large' cannot be estimated/,
    ],
    [
      'a fractional connection limit',
      (c: M) => {
        c.monitoring.thresholds.dbMaxConnections = 80.5;
      },
      /dbMaxConnections 80\.5 must be a whole number/,
    ],
    [
      'a runbook base URL with a trailing slash',
      (c: M) => {
        c.monitoring.runbookBaseUrl = 'https://github.com/acme/chat-platform/blob/main/docs/runbooks/';
      },
      /runbookBaseUrl .* without a trailing slash/,
    ],
    [
      'a runbook base URL over plain HTTP',
      (c: M) => {
        c.monitoring.runbookBaseUrl = 'http://wiki.example.com/runbooks';
      },
      /runbookBaseUrl .* must be an https URL or a repository path/,
    ],
  ])('rejects %s', (_name, mutate, message) => {
    const problems = problemsOf(() => validateStageConfig(withOverrides('dev', mutate)));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  test('an unknown instance class is fine once its connection limit is configured', () => {
    const config = withOverrides('dev', (c) => {
      c.database.instanceType = 'x2g.large';
      c.monitoring.thresholds.dbMaxConnections = 1000;
    });
    expect(() => validateStageConfig(config)).not.toThrow();
  });

  test('every stage can roll back within its bake time', () => {
    for (const stage of STAGE_NAMES) {
      const { monitoring, deployment } = getStageConfig(stage);
      expect(monitoring.symptomEvaluation.datapointsToAlarm * monitoring.periodMinutes).toBeLessThanOrEqual(
        deployment.bakeTimeMinutes,
      );
    }
  });
});
