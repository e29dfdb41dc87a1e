import {
  getStageConfig,
  isPipelineEnabled,
  PIPELINE_CONFIG,
  type PipelineConfig,
  PipelineConfigError,
  resolvePipelineConfig,
  resolveStageConfig,
  STAGE_NAMES,
  type StageConfig,
  StageConfigError,
  validatePipelineConfig,
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
      'a load balancer without deletion protection',
      (c: M) => {
        c.ingress.deletionProtection = false;
      },
      /prod: ingress\.deletionProtection must be true/,
    ],
    [
      'stacks without termination protection',
      (c: M) => {
        c.terminationProtection = false;
      },
      /prod: terminationProtection must be true/,
    ],
    [
      'log groups deleted with their stack',
      (c: M) => {
        c.retainLogGroups = false;
      },
      /prod: retainLogGroups must be true/,
    ],
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

  test('a problem in every section is reported in the same pass, once each', () => {
    const problems = problemsOf(() =>
      validateStageConfig(
        withOverrides('dev', (c) => {
          c.appName = 'Chat';
          c.network.natGateways = 0;
          c.database.port = 80;
          c.cache.port = 6379;
          c.service.cacheTtlSeconds = 3_000_000;
          c.ingress.testPort = c.ingress.productionPort;
          c.deployment.strategy = 'LINEAR';
          c.deployment.gate.parallelism = 0;
          c.monitoring.periodMinutes = 2;
        }),
      ),
    );
    const expected = [
      /^appName 'Chat'/,
      /^network\.natGateways 0/,
      /^database\.port 80/,
      /^cache\.port must not be the default 6379/,
      /^service\.cacheTtlSeconds 3000000 is outside/,
      /^ingress\.productionPort and ingress\.testPort must differ/,
      /^deployment\.strategy 'LINEAR' needs deployment\.linear/,
      /^deployment\.gate\.parallelism 0/,
      /^monitoring\.periodMinutes 2/,
    ];
    expect(problems).toEqual(expect.arrayContaining(expected.map((m) => expect.stringMatching(m))));
    expect(problems).toHaveLength(expected.length);
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
      'a cache share threshold of 0 (every answer would be shared, and the count could never be met)',
      (c: M) => {
        c.service.cacheShareAfterPrincipals = 0;
      },
      /service\.cacheShareAfterPrincipals 0 is outside CACHE_SHARE_AFTER_PRINCIPALS's range 1–1000/,
    ],
    [
      'an LLM endpoint over plain http (the key and the prompts would travel in clear)',
      (c: M) => {
        c.service.llm = { ...c.service.llm, baseUrl: 'http://llm.internal.example/v1' };
      },
      /service\.llm\.baseUrl 'http:\/\/llm\.internal\.example\/v1' must be an https:\/\/ URL/,
    ],
    [
      "a WAF rate limit below WAF's minimum",
      (c: M) => {
        c.ingress.firewall = { requestsPerIpPerFiveMinutes: 5 };
      },
      /ingress\.firewall\.requestsPerIpPerFiveMinutes 5 must be a whole number from 10/,
    ],
    [
      'a secret poll slower than an hour',
      (c: M) => {
        c.service.rotationPollSeconds = 7_200;
      },
      /^service\.rotationPollSeconds 7200 is outside ROTATION_POLL_SECONDS's range 1–3600 s/,
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
      'a storage cap of zero',
      (c: M) => {
        c.service.quotas.storedBytesPerPrincipalPerDay = 0;
      },
      /service\.quotas\.storedBytesPerPrincipalPerDay 0 is outside QUOTA_STORED_BYTES_PER_DAY's range/,
    ],
    [
      "a gate request allowance outside QUOTA_GATE_REQUESTS_PER_MINUTE's range",
      (c: M) => {
        c.service.quotas.gateRequestsPerMinute = 0;
      },
      /^service\.quotas\.gateRequestsPerMinute 0 is outside QUOTA_GATE_REQUESTS_PER_MINUTE's range 1–1000000 requests\/min: /,
    ],
    [
      "a gate storage cap outside QUOTA_GATE_STORED_BYTES_PER_DAY's range",
      (c: M) => {
        c.service.quotas.gateStoredBytesPerDay = 50_000;
      },
      /^service\.quotas\.gateStoredBytesPerDay 50000 is outside QUOTA_GATE_STORED_BYTES_PER_DAY's range 100000–1000000000000 bytes\/day: /,
    ],
    [
      'an external gate principal with a space in it',
      (c: M) => {
        c.auth = {
          issuer: 'https://login.example.com/realms/chat',
          audiences: ['chat-api'],
          gateClient: {
            tokenUrl: 'https://login.example.com/realms/chat/token',
            secretName: 'chat/gate-client',
            principal: 'service account',
          },
          accessTokenValidityMinutes: 60,
        };
      },
      /^auth\.gateClient\.principal "service account" must be the `sub` of the gate client's tokens, 1-256 characters without whitespace or control characters \(GATE_PRINCIPAL\)\./,
    ],
    [
      'a retention of zero days',
      (c: M) => {
        c.service.messageRetentionDays = 0;
      },
      /service\.messageRetentionDays 0 is outside MESSAGE_RETENTION_DAYS's range 1–3650 days/,
    ],
    [
      'a request quota of zero',
      (c: M) => {
        c.service.quotas.requestsPerPrincipalPerMinute = 0;
      },
      /^service\.quotas\.requestsPerPrincipalPerMinute 0 is outside QUOTA_REQUESTS_PER_MINUTE's range 1–1000000 requests\/min/,
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
});

describe('the pipeline config', () => {
  const pipelineProblems = (
    mutate: (c: Mutable<PipelineConfig>) => void,
    target: { account?: string } = {},
    stageMutate?: (c: M) => void,
  ): readonly string[] => {
    const config = structuredClone(PIPELINE_CONFIG) as Mutable<PipelineConfig>;
    mutate(config);
    const stages = config.stages.map((s) =>
      (STAGE_NAMES as readonly string[]).includes(s.stage)
        ? stageMutate
          ? withOverrides(s.stage, stageMutate)
          : getStageConfig(s.stage)
        : undefined,
    );
    return problemsOf(() => validatePipelineConfig(config, stages, target));
  };

  test('the shipped pipeline config is valid offline, off by default, and releases staging then prod', () => {
    const resolved = resolvePipelineConfig();
    expect(PIPELINE_CONFIG.enabled).toBe(false);
    expect(resolved.stages.map((s) => [s.stage, s.gateProfile, s.manualApproval])).toEqual([
      ['staging', 'light', false],
      ['prod', 'smoke', true],
    ]);
    expect(resolved.stages.map((s) => s.config.stage)).toEqual(['staging', 'prod']);
  });

  test('-c pipeline= switches the pipeline on or off, and anything else is refused', () => {
    expect(isPipelineEnabled(undefined)).toBe(PIPELINE_CONFIG.enabled);
    expect(isPipelineEnabled('true')).toBe(true);
    expect(isPipelineEnabled(true)).toBe(true);
    expect(isPipelineEnabled('false', { ...PIPELINE_CONFIG, enabled: true })).toBe(false);
    expect(isPipelineEnabled(undefined, { ...PIPELINE_CONFIG, enabled: true })).toBe(true);
    expect(() => isPipelineEnabled('yes')).toThrow(/-c pipeline=yes must be true or false/);
    expect(() => isPipelineEnabled('yes')).toThrow(StageConfigError);
  });

  test('a stage without its own account deploys into the pipeline account', () => {
    // Prod's placeholder certificate would be refused for a known account; staging alone is enough here.
    const resolved = resolvePipelineConfig(
      { account: '111122223333' },
      {
        ...PIPELINE_CONFIG,
        connectionArn:
          'arn:aws:codestar-connections:us-east-1:111122223333:connection/8b2d3c4e-1111-2222-3333-444455556666',
        stages: [PIPELINE_CONFIG.stages[0]],
      },
    );
    expect(resolved.config.env.account).toBe('111122223333');
    expect(resolved.stages[0].config.env.account).toBe('111122223333');
  });

  test('the placeholder connection is refused once the pipeline account is known', () => {
    expect(pipelineProblems(() => {}, { account: '111122223333' })).toEqual([
      expect.stringMatching(/connectionArn belongs to account 123456789012, not the pipeline's account 111122223333/),
      // Prod has a certificate and no domain name: the gate could not verify TLS.
      expect.stringMatching(/stages\[1\] \(prod\): ingress\.certificateArn is set but ingress\.domainName is not/),
    ]);
  });

  test('with the account known, the shipped config lists every change a real deploy needs, at once', () => {
    const problems = problemsOf(() => resolvePipelineConfig({ account: '111122223333' }));
    expect(problems).toEqual([
      expect.stringMatching(/^stage 'prod' \(STAGES\.prod\): ingress\.certificateArn belongs to another account/),
      expect.stringMatching(/^connectionArn belongs to account 123456789012/),
      expect.stringMatching(/^stages\[1\] \(prod\): ingress\.certificateArn is set but ingress\.domainName is not/),
    ]);
  });

  test.each([
    [
      'a connection ARN that is not one',
      (c: Mutable<PipelineConfig>) => {
        c.connectionArn = 'arn:aws:iam::123456789012:role/not-a-connection';
      },
      /connectionArn '.*' is not a connection ARN/,
    ],
    [
      'a branch given as a ref',
      (c: Mutable<PipelineConfig>) => {
        c.branch = 'refs/heads/main';
      },
      /branch 'refs\/heads\/main' must be a branch name/,
    ],
    [
      'a repository without an owner',
      (c: Mutable<PipelineConfig>) => {
        c.repository.owner = '';
      },
      /repository '\/chat-platform' must be an owner and a repository name/,
    ],
    [
      'no stage',
      (c: Mutable<PipelineConfig>) => {
        c.stages = [];
      },
      /stages is empty/,
    ],
    [
      'prod before staging',
      (c: Mutable<PipelineConfig>) => {
        c.stages.reverse();
      },
      /stages must follow the release order dev → staging → prod \(is prod → staging\)/,
    ],
    [
      'a stage twice',
      (c: Mutable<PipelineConfig>) => {
        c.stages.push({ ...c.stages[1] });
      },
      /stages lists a stage twice/,
    ],
    [
      'an unknown stage',
      (c: Mutable<PipelineConfig>) => {
        (c.stages[0] as { stage: string }).stage = 'qa';
      },
      /unknown stage 'qa'/,
    ],
    [
      'an unknown gate profile',
      (c: Mutable<PipelineConfig>) => {
        (c.stages[0] as { gateProfile: string }).gateProfile = 'huge';
      },
      /stages\[0\] \(staging\): gateProfile 'huge' is unknown/,
    ],
    [
      'a pipeline in another region than its stages',
      (c: Mutable<PipelineConfig>) => {
        c.env.region = 'eu-west-1';
      },
      /region us-east-1 differs from the pipeline's eu-west-1/,
    ],
    [
      'an unknown log retention',
      (c: Mutable<PipelineConfig>) => {
        c.logRetentionDays = 42;
      },
      /logRetentionDays 42 is not a CloudWatch Logs retention/,
    ],
  ])('rejects %s', (_name, mutate, message) => {
    expect(pipelineProblems(mutate)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  test('a stage the gate step could not reach is refused: CodeBuild has no fixed address', () => {
    const problems = pipelineProblems(
      () => {},
      {},
      (c) => {
        c.ingress.allowedCidrs = ['10.0.0.0/8'];
      },
    );
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/ingress\.allowedCidrs does not include 0\.0\.0\.0\/0/)]),
    );
  });

  test('a pipeline problem names the pipeline config, not a stage', () => {
    try {
      validatePipelineConfig({ ...PIPELINE_CONFIG, branch: '' }, []);
    } catch (err) {
      expect(err).toBeInstanceOf(PipelineConfigError);
      expect((err as Error).message).toMatch(
        /^Pipeline config \(PIPELINE_CONFIG in lib\/config\/stage-config\.ts\) is invalid:/,
      );
      return;
    }
    throw new Error('expected a PipelineConfigError');
  });
});
