/**
 * The relations catalogue (lib/config/relations.ts): every relation refuses a config that violates
 * it, through the validation `bin/app.ts` runs before synth, with a message naming both sides; the
 * shipped stages hold every relation; and docs/architecture.md lists them as the code does.
 */
import { STAGE_NAMES, STAGES, type StageConfig, StageConfigError, validateStageConfig } from '../../lib/config';
import { RELATIONS } from '../../lib/config/relations';
import { type Mutable, withOverrides } from '../support/cdk';

type M = Mutable<StageConfig>;

const problemsOf = (config: StageConfig): readonly string[] => {
  try {
    validateStageConfig(config);
  } catch (err) {
    if (err instanceof StageConfigError) return err.problems;
    throw err;
  }
  return [];
};

/** One violating change per relation, with the values the message must show (smaller side, bound). */
const VIOLATIONS: Record<string, { stage: 'dev' | 'prod'; mutate: (c: M) => void; values: [string, string] }> = {
  // The case, scaled: the service closing idle connections before the ALB does.
  'alb-idle-below-keep-alive': {
    stage: 'dev',
    mutate: (c) => {
      c.service.keepAliveTimeoutSeconds = 170;
    },
    values: ['180 s', '170 s'],
  },
  // 3 × 60 s + 2 × 2 s of backoff + 38 s database + 3 s cache + 4 s JWKS = 229 s.
  'request-within-alb-idle': {
    stage: 'dev',
    mutate: (c) => {
      c.service.llm.timeoutMs = 60_000;
    },
    values: ['229 s', '180 s'],
  },
  'gate-run-within-hook-timeout': {
    stage: 'dev',
    mutate: (c) => {
      c.deployment.gate.profile = 'soak';
      // Its 2 × 2388 requests need a gate allowance to match (gate-within-request-quota).
      c.service.quotas.gateRequestsPerMinute = 5_000;
    },
    values: ['24 min', '15 min'],
  },
  // Smoke, relative: 2 × (2 × 10 priming + 40 + 5 fresh + 48 ttft + 400 hit pairs) = 1026 requests.
  'gate-within-request-quota': {
    stage: 'dev',
    mutate: (c) => {
      c.service.quotas.gateRequestsPerMinute = 900;
    },
    values: ['1026 requests', '900 requests'],
  },
  'drain-within-stop-timeout': {
    stage: 'dev',
    mutate: (c) => {
      c.service.drainTimeoutMs = 30_000;
    },
    values: ['31000 ms', '30000 ms'],
  },
  // dev's t4g.micro: an estimated 79 connections, 80% of which is 63; 10 × 4 tasks × 2 colours = 80.
  'db-pool-within-connection-alarm': {
    stage: 'dev',
    mutate: (c) => {
      c.service.maxTaskCount = 4;
    },
    values: ['80 connections', '63 connections'],
  },
  'token-quota-fits-one-request': {
    stage: 'dev',
    mutate: (c) => {
      c.service.quotas.llmTokensPerPrincipalPerMinute = 7_000;
    },
    values: ['7024 tokens', '7000 tokens'],
  },
  // The soak primes its answers, then asks for them for 20 minutes: 3 + 20 min + 30 s = 1410 s.
  'cache-ttl-covers-soak': {
    stage: 'prod',
    mutate: (c) => {
      c.service.cacheTtlSeconds = 1_200;
    },
    values: ['1410 s', '1200 s'],
  },
  // Fargate's smallest task (0.25 vCPU, 512 MiB) under the 512 MiB heap limit.
  'heap-within-task-memory': {
    stage: 'dev',
    mutate: (c) => {
      (c.service as { cpu: number }).cpu = 256;
      (c.service as { memoryMiB: number }).memoryMiB = 512;
    },
    values: ['1024 MiB', '512 MiB'],
  },
  'cache-ttl-within-retention': {
    stage: 'dev',
    mutate: (c) => {
      c.service.messageRetentionDays = 1;
      c.service.cacheTtlSeconds = 90_000;
    },
    values: ['90000 s', '86400 s'],
  },
  // ROTATION_POLL_SECONDS' range (at most an hour) keeps this one true today; the relation holds
  // it should the range ever widen. 90,000 s + 20% jitter against a one-day rotation.
  'rotation-poll-within-rotation-period': {
    stage: 'dev',
    mutate: (c) => {
      c.service.rotationPollSeconds = 90_000;
      c.database.appUserRotationDays = 1;
    },
    values: ['108000 s', '86400 s'],
  },
  'alarm-within-bake': {
    stage: 'dev',
    mutate: (c) => {
      c.monitoring.symptomEvaluation = { datapointsToAlarm: 2, evaluationPeriods: 3 };
    },
    values: ['10 min', '5 min'],
  },
};

describe('relations between components', () => {
  test('every relation in the catalogue has a violation test, and names are unique', () => {
    const names = RELATIONS.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(Object.keys(VIOLATIONS).sort()).toEqual([...names].sort());
  });

  test.each(STAGE_NAMES)('the shipped %s config holds every relation', (stage) => {
    expect(problemsOf(STAGES[stage]).filter((p) => p.startsWith('relation '))).toEqual([]);
  });

  test.each(RELATIONS.map((r) => [r.name, r] as const))(
    '%s: a violating config is refused at synth, naming both sides and their values',
    (name, relation) => {
      const { stage, mutate, values } = VIOLATIONS[name];
      const problems = problemsOf(withOverrides(stage, mutate));
      const mine = problems.filter((p) => p.startsWith(`relation ${name}:`));
      expect(mine).toHaveLength(1);
      const message = mine[0];
      expect(message).toContain(relation.left);
      expect(message).toContain(relation.right);
      expect(message).toContain(`is ${values[0]}, which must be`);
      expect(message).toContain(`, ${values[1]};`);
      // The violation is this relation's alone: no other relation fires for the same change.
      expect(problems.filter((p) => p.startsWith('relation '))).toEqual(mine);
    },
  );

  describe('gate-within-request-quota: whose allowance holds the gate', () => {
    const gateProblems = (mutate: (c: M) => void) =>
      problemsOf(withOverrides('dev', mutate)).filter((p) => p.startsWith('relation gate-within-request-quota:'));
    const external = (c: M, principal?: string) => {
      c.auth = {
        issuer: 'https://login.example.com/realms/chat',
        audiences: ['chat-api'],
        gateClient: {
          tokenUrl: 'https://login.example.com/realms/chat/token',
          secretName: 'chat/gate-client',
          ...(principal === undefined ? {} : { principal }),
        },
        accessTokenValidityMinutes: 60,
      };
    };

    test("with Cognito the gate principal's allowance counts, not the ordinary quota", () => {
      expect(
        gateProblems((c) => {
          c.service.quotas.requestsPerPrincipalPerMinute = 100;
        }),
      ).toEqual([]);
    });

    test('an external issuer without auth.gateClient.principal holds the gate to the ordinary quota', () => {
      const problems = gateProblems((c) => external(c));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain("(profile 'smoke', no gate principal) is 1026 requests");
      expect(problems[0]).toContain(`, ${STAGES.dev.service.quotas.requestsPerPrincipalPerMinute} requests;`);
    });

    test("an external issuer with auth.gateClient.principal gets the gate's allowance", () => {
      expect(gateProblems((c) => external(c, 'service-account-1234'))).toEqual([]);
      expect(
        gateProblems((c) => {
          external(c, 'service-account-1234');
          c.service.quotas.gateRequestsPerMinute = 961;
        }),
      ).toEqual([expect.stringContaining("(profile 'smoke') is 1026 requests, which must be at most")]);
    });

    test('a disabled gate sends nothing, so nothing is checked', () => {
      expect(
        gateProblems((c) => {
          c.deployment.gate.enabled = false;
          c.service.quotas.gateRequestsPerMinute = 1;
        }),
      ).toEqual([]);
    });

    test('the default allowance holds the light profile (staging) too, but not the soak, which says to raise it', () => {
      expect(
        gateProblems((c) => {
          c.deployment.gate.profile = 'light';
        }),
      ).toEqual([]);
      // 2 × (20 + 1800 + 120 + 448) = 4776.
      const soak = gateProblems((c) => {
        c.deployment.gate.profile = 'soak';
      });
      expect(soak).toEqual([expect.stringContaining("(profile 'soak') is 4776 requests")]);
      expect(soak[0]).toContain('Raise service.quotas.gateRequestsPerMinute');
    });
  });

  test('the ALB idle timeout of the issue (120 s) against a 65 s keep-alive is refused twice: keep-alive and worst case', () => {
    const problems = problemsOf(
      withOverrides('prod', (c) => {
        c.ingress.idleTimeoutSeconds = 120;
        c.service.keepAliveTimeoutSeconds = 65;
      }),
    );
    expect(problems.filter((p) => p.startsWith('relation ')).map((p) => p.split(':')[0])).toEqual([
      'relation alb-idle-below-keep-alive',
      'relation request-within-alb-idle',
    ]);
  });
});
