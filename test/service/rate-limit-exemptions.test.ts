/**
 * RATE_LIMIT_EXEMPT_CIDRS: the addresses the per-address flood guard does not count. A typo must
 * never exempt the internet, so every refusal names the setting, the entry and the rule it broke.
 */
import { RATE_LIMIT_EXEMPT_RULE, SERVICE_ENV } from '../../lib/contract';
import { describeProblems, parseServiceConfig } from '../../service/src/config';
import { parseRateLimitExemptions } from '../../service/src/rate-limit-exemptions';

const VALID: Record<string, string> = {
  APP_VERSION: '1.2.3',
  DB_HOST: 'db.internal',
  DB_NAME: 'chat',
  DB_USERNAME: 'chat_app',
  DB_PASSWORD: 'db-password-value-123',
  REDIS_HOST: 'cache.internal',
  REDIS_AUTH_TOKEN: 'redis-token-value-456',
  LLM_BASE_URL: 'https://llm.example.com/v1/',
  LLM_MODEL: 'gpt-4o-mini',
  LLM_API_KEY: 'llm-key-value-789',
  AUTH_ISSUER: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123',
  AUTH_AUDIENCE: 'user-client-id, gate-client-id',
};

/** The one start-up line the service would print for this value. */
function refusal(value: string): string {
  const r = parseServiceConfig({ ...VALID, RATE_LIMIT_EXEMPT_CIDRS: value });
  if (r.ok) throw new Error(`accepted ${value}`);
  expect(r.problems.map((p) => p.name)).toEqual(['RATE_LIMIT_EXEMPT_CIDRS']);
  return describeProblems(r.problems);
}

function accepted(value: string) {
  const r = parseRateLimitExemptions(value);
  if (!r.ok) throw new Error(r.problem);
  return r.value;
}

describe('RATE_LIMIT_EXEMPT_CIDRS', () => {
  test('unset: nobody is exempt', () => {
    for (const env of [VALID, { ...VALID, RATE_LIMIT_EXEMPT_CIDRS: '' }]) {
      const r = parseServiceConfig(env);
      if (!r.ok) throw new Error(describeProblems(r.problems));
      expect(r.config.rateLimitExempt.cidrs).toEqual([]);
      expect(r.config.rateLimitExempt.covers('10.0.0.1')).toBe(false);
    }
    expect(SERVICE_ENV.RATE_LIMIT_EXEMPT_CIDRS.required).toBe(false);
  });

  test("a VPC's CIDR covers its addresses (IPv4-mapped IPv6 too) and nothing else", () => {
    const r = parseServiceConfig({ ...VALID, RATE_LIMIT_EXEMPT_CIDRS: '10.30.0.0/16' });
    if (!r.ok) throw new Error(describeProblems(r.problems));
    const { covers, cidrs } = r.config.rateLimitExempt;
    expect(cidrs).toEqual(['10.30.0.0/16']);
    for (const inside of ['10.30.0.0', '10.30.4.17', '10.30.255.255', '::ffff:10.30.4.17']) {
      expect([inside, covers(inside)]).toEqual([inside, true]);
    }
    for (const outside of [
      '10.31.0.1',
      '10.29.255.255',
      '203.0.113.7',
      '::1',
      'fd00::1',
      '',
      'unknown',
      '10.30.0.1%eth0',
    ]) {
      expect([outside, covers(outside)]).toEqual([outside, false]);
    }
  });

  test('valid lists: several entries, spaces around commas, IPv6, public blocks no wider than a VPC can be', () => {
    const list = accepted(' 10.10.0.0/16 , 172.16.0.0/12,192.168.1.0/24, fd12:3456:789a::/48, 2001:db8:1200::/44');
    expect(list.cidrs).toEqual([
      '10.10.0.0/16',
      '172.16.0.0/12',
      '192.168.1.0/24',
      'fd12:3456:789a::/48',
      '2001:db8:1200::/44',
    ]);
    expect(list.covers('192.168.1.200')).toBe(true);
    expect(list.covers('192.168.2.1')).toBe(false);
    expect(list.covers('fd12:3456:789a:1::5')).toBe(true);
    expect(list.covers('2001:db8:120f:ffff::1')).toBe(true);
    expect(list.covers('2001:db8:1210::1')).toBe(false);
    // A whole private range is fine: no internet client reaches the ALB from one.
    for (const whole of ['10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', 'fc00::/7', '::1/128']) accepted(whole);
    // A public block the size of a VPC (BYOIP) and single addresses.
    for (const narrow of ['198.51.0.0/16', '203.0.113.7/32', '2001:db8::1/128']) accepted(narrow);
  });

  test('0.0.0.0/0, ::/0 and any public range wider than a VPC are refused, naming the setting, the entry and the rule', () => {
    expect(refusal('0.0.0.0/0')).toBe(
      'invalid configuration: RATE_LIMIT_EXEMPT_CIDRS entry 1 of 1 (0.0.0.0/0) is wider than /16 and not inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 127.0.0.0/8, fc00::/7, ::1/128): internet clients would skip the flood guard; an IPv4 entry outside them may be at most a /16, the widest block a VPC can have',
    );
    expect(refusal('10.30.0.0/16,::/0')).toMatch(
      /^invalid configuration: RATE_LIMIT_EXEMPT_CIDRS entry 2 of 2 \(::\/0\) covers IPv4-mapped addresses \(::ffff:0:0\/96\)/,
    );
    for (const [value, entry, rule] of [
      ['1.0.0.0/8', '1.0.0.0/8', /wider than \/16 and not inside a private range/],
      ['10.30.0.0/16, 8.0.0.0/6', '8.0.0.0/6', /wider than \/16/], // contains 10.0.0.0/8, but is not inside it
      ['10.0.0.0/7', '10.0.0.0/7', /wider than \/16/], // one bit too wide for 10/8
      ['172.16.0.0/11', '172.16.0.0/11', /wider than \/16/],
      ['198.51.0.0/15', '198.51.0.0/15', /IPv4 entry outside them may be at most a \/16/],
      ['2001:db8::/32', '2001:db8::/32', /IPv6 entry outside them may be at most a \/44/],
      ['fc00::/6', 'fc00::/6', /wider than \/44/],
      ['::/44', '::/44', /covers IPv4-mapped addresses/],
      ['::ffff:0:0/96', '::ffff:0:0/96', /covers IPv4-mapped addresses/],
      ['::ffff:10.0.0.0/104', '::ffff:10.0.0.0/104', /write IPv4 ranges in IPv4 notation/],
    ] as const) {
      const text = refusal(value);
      expect(text).toContain('RATE_LIMIT_EXEMPT_CIDRS');
      expect(text).toContain(`(${entry})`);
      expect(text).toMatch(rule);
    }
  });

  test('an entry that is not a CIDR is refused by position, never echoed', () => {
    for (const [value, where] of [
      ['10.0.0.0', 'entry 1 of 1'], // no prefix
      ['10.0.0.0/33', 'entry 1 of 1'],
      ['10.0.0.0/016', 'entry 1 of 1'],
      ['10.0.0/16', 'entry 1 of 1'],
      ['10.0.0.256/24', 'entry 1 of 1'],
      ['fe80::1%eth0/64', 'entry 1 of 1'],
      ['2001:db8::/129', 'entry 1 of 1'],
      ['vpc-cidr', 'entry 1 of 1'],
      ['10.0.0.0/16,,10.1.0.0/16', 'entry 2 of 3'],
      ['10.0.0.0/16,', 'entry 2 of 2'],
      ['10.0.0.0/16 10.1.0.0/16', 'entry 1 of 1'],
    ] as const) {
      const text = refusal(value);
      expect(text).toBe(
        `invalid configuration: RATE_LIMIT_EXEMPT_CIDRS ${where} is not an IPv4 or IPv6 CIDR (address/prefix, e.g. 10.0.0.0/16; no zone, no bare address)`,
      );
    }
    expect(refusal('not-a-cidr-secretish')).not.toContain('secretish');
  });

  test(`at most ${RATE_LIMIT_EXEMPT_RULE.maxEntries} entries`, () => {
    const five = ['10.0.0.0/16', '10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16'];
    expect(accepted(five.join(',')).cidrs).toHaveLength(RATE_LIMIT_EXEMPT_RULE.maxEntries);
    expect(refusal([...five, '10.5.0.0/16'].join(','))).toBe(
      "invalid configuration: RATE_LIMIT_EXEMPT_CIDRS must list at most 5 CIDRs (a VPC's CIDR blocks under AWS's default quota), not 6",
    );
  });

  test('every bad entry is reported in the one line', () => {
    const text = refusal('0.0.0.0/0, nonsense, 10.0.0.0/16');
    expect(text).toMatch(
      /entry 1 of 3 \(0\.0\.0\.0\/0\) is wider than \/16.*; entry 2 of 3 is not an IPv4 or IPv6 CIDR/,
    );
  });
});
