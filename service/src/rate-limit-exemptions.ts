/**
 * RATE_LIMIT_EXEMPT_CIDRS: the client addresses the per-address flood guard (RATE_LIMIT_PER_MINUTE)
 * does not count. The CDK app sets the VPC's CIDR, so the k6 gate runner (one private address, ~481
 * chat requests per target in about a minute) is not answered 429 by the guard meant for floods.
 *
 * Why this is safe: the address checked is `request.ip`, the one the ALB appended to
 * X-Forwarded-For (the right-most hop, see `trustProxy` in http-app.ts), which an internet client
 * cannot choose. Only callers inside the VPC match, and they still need a valid token on every chat
 * route and are held to their principal's quotas. The rule (lib/contract/env.ts,
 * `RATE_LIMIT_EXEMPT_RULE`) keeps a typo from covering the internet.
 *
 * Addresses are matched by `node:net`'s BlockList, not by hand-written CIDR arithmetic.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { RATE_LIMIT_EXEMPT_RULE } from '../../lib/contract';

/** The parsed setting: the CIDRs as given (trimmed) and whether an address is inside one of them. */
export interface RateLimitExemptions {
  readonly cidrs: readonly string[];
  /** True for an address (IPv4, IPv6 or IPv4-mapped IPv6) inside one of `cidrs`; false for anything else. */
  readonly covers: (address: string) => boolean;
}

export type ExemptionsResult =
  | { readonly ok: true; readonly value: RateLimitExemptions }
  | { readonly ok: false; readonly problem: string };

type Family = 'ipv4' | 'ipv6';
interface Cidr {
  readonly text: string;
  readonly address: string;
  readonly prefix: number;
  readonly family: Family;
}

const MAX_PREFIX: Record<Family, number> = { ipv4: 32, ipv6: 128 };

/** `address/prefix`, the address in IPv4 or IPv6 notation without a zone, the prefix in decimal. */
function parseCidr(text: string): Cidr | undefined {
  const m = /^([0-9A-Fa-f.:]+)\/(0|[1-9][0-9]{0,2})$/.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  const address = m[1];
  const family: Family | undefined = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  const prefix = Number(m[2]);
  if (family === undefined || prefix > MAX_PREFIX[family]) return undefined;
  return { text, address, prefix, family };
}

function blockListOf(cidrs: readonly Cidr[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family);
  return list;
}

const PRIVATE_RANGES: readonly Cidr[] = RATE_LIMIT_EXEMPT_RULE.privateRanges.map((r) => {
  const c = parseCidr(r);
  if (!c) throw new Error(`RATE_LIMIT_EXEMPT_RULE.privateRanges: ${r} is not a CIDR`);
  return c;
});
const IPV4_MAPPED = (() => {
  const c = parseCidr(RATE_LIMIT_EXEMPT_RULE.ipv4MappedRange);
  if (!c) throw new Error('RATE_LIMIT_EXEMPT_RULE.ipv4MappedRange is not a CIDR');
  return c;
})();

/**
 * Whether `c` lies inside `range`: at least as narrow, and its address in it. A block of prefix p
 * that has one address inside an aligned block of prefix q <= p lies wholly inside it.
 */
function inside(c: Cidr, range: Cidr): boolean {
  return c.family === range.family && c.prefix >= range.prefix && blockListOf([range]).check(c.address, c.family);
}

/** Whether two blocks share an address: one of them lies inside the other. */
function overlaps(a: Cidr, b: Cidr): boolean {
  return inside(a, b) || inside(b, a);
}

const PRIVATE_TEXT = RATE_LIMIT_EXEMPT_RULE.privateRanges.join(', ');

/** What is wrong with one parsed entry under the rule; undefined when it is acceptable. */
function entryProblem(c: Cidr, where: string): string | undefined {
  const named = `${where} (${c.text})`;
  if (c.family === 'ipv6' && overlaps(c, IPV4_MAPPED)) {
    return `${named} covers IPv4-mapped addresses (${IPV4_MAPPED.text}), which would exempt IPv4 clients: write IPv4 ranges in IPv4 notation`;
  }
  if (PRIVATE_RANGES.some((range) => inside(c, range))) return undefined;
  const widest = RATE_LIMIT_EXEMPT_RULE.widestPublicPrefix[c.family];
  if (c.prefix < widest) {
    return `${named} is wider than /${widest} and not inside a private range (${PRIVATE_TEXT}): internet clients would skip the flood guard; an ${c.family === 'ipv4' ? 'IPv4' : 'IPv6'} entry outside them may be at most a /${widest}, the widest block a VPC can have`;
  }
  return undefined;
}

/**
 * Parses RATE_LIMIT_EXEMPT_CIDRS. A problem names the entry by its position, and by its text only
 * once it has parsed as a CIDR (so no value that is not a plain address range is ever echoed: the
 * parser's problems never carry arbitrary values, see config.ts).
 */
export function parseRateLimitExemptions(raw: string): ExemptionsResult {
  const items = raw.split(',').map((s) => s.trim());
  const { maxEntries } = RATE_LIMIT_EXEMPT_RULE;
  if (items.length > maxEntries) {
    return {
      ok: false,
      problem: `must list at most ${maxEntries} CIDRs (a VPC's CIDR blocks under AWS's default quota), not ${items.length}`,
    };
  }
  const problems: string[] = [];
  const cidrs: Cidr[] = [];
  items.forEach((item, i) => {
    const where = `entry ${i + 1} of ${items.length}`;
    const c = parseCidr(item);
    if (!c) {
      problems.push(
        `${where} is not an IPv4 or IPv6 CIDR (address/prefix, e.g. 10.0.0.0/16; no zone, no bare address)`,
      );
      return;
    }
    const problem = entryProblem(c, where);
    if (problem) problems.push(problem);
    else cidrs.push(c);
  });
  if (problems.length > 0) return { ok: false, problem: problems.join('; ') };
  return { ok: true, value: exemptionsOf(cidrs) };
}

function exemptionsOf(cidrs: readonly Cidr[]): RateLimitExemptions {
  const list = blockListOf(cidrs);
  return {
    cidrs: cidrs.map((c) => c.text),
    covers: (address) => {
      // BlockList matches IPv4 rules against IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) too.
      const family: Family | undefined = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
      if (family === undefined) return false;
      try {
        return list.check(address, family);
      } catch {
        return false; // e.g. an IPv6 address with a zone: not one of ours
      }
    },
  };
}

/** No exemption: the value when RATE_LIMIT_EXEMPT_CIDRS is unset. */
export const NO_EXEMPTIONS: RateLimitExemptions = { cidrs: [], covers: () => false };
