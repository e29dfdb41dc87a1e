/**
 * What `npm run bench` measured, its targets, and the text made from it: the console table, the
 * README's "Measured numbers" section and the results block of docs/service.md.
 *
 * `npm run bench -- --save` saves the run to `docs/bench-result.json`; `npm run docs` renders both
 * documents' blocks from that file (scripts/docs.ts), and `npm run docs -- --check` fails when they
 * say anything else, so no document quotes a number that a bench run did not produce.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export const BENCH_RESULT_FILE = path.join(__dirname, '..', 'docs', 'bench-result.json');

export interface PathStats {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

export interface BenchResult {
  /** ISO date of the run. */
  readonly date: string;
  /** `git describe --always --dirty` of the measured tree. */
  readonly commit: string;
  readonly cpus: number;
  /** 1-minute load average when the bench started and when it ended (other work on the machine). */
  readonly loadAverage: { readonly start: number; readonly end: number };
  readonly rounds: number;
  readonly seconds: number;
  readonly connections: number;
  readonly durable: boolean;
  readonly llmDelayMs: number;
  readonly nodeOptions: string;
  readonly floor: PathStats;
  readonly hit: PathStats;
  readonly missSequential: PathStats;
  readonly llmDirect: PathStats;
  /** The miss floor, sequential: a miss's I/O (cache lookup, LLM POST, cache write, insert) done by a bare route. */
  readonly missFloor: PathStats;
  readonly miss10: PathStats;
  readonly miss50: PathStats;
  readonly peakRssMiB: number;
  /** Non-2xx responses and errors over all runs. */
  readonly failures: number;
  /** Of the failures: 429 answers (a quota or the rate limit, whose limits the bench sets far above its load). */
  readonly quotaRejections: number;
  /** One bearer check in the service process (header parsed, token verified), in microseconds. */
  readonly auth: {
    /** Signature and claims verified on every call. */
    readonly verifyUncachedUs: number;
    /** Served from the cache of verified tokens (a SHA-256 of the token and a map lookup). */
    readonly verifyCachedUs: number;
  };
  /** The service process's CPU time (user + system) per request, median of the rounds, in microseconds. */
  readonly cpuPerRequestUs: { readonly floor: number; readonly hit: number };
}

/** The service's targets: ratios against the floor of the same run, the miss overhead, the memory. */
export const BENCH_TARGETS = {
  // With authentication on and a floor doing the same I/O (the quota round trip included).
  hitThroughputVsFloor: 0.8,
  hitP99VsFloorP99: 2,
  missOverheadMedianMs: 5,
  // Was 150 MiB with the hand-written node:http fetch (142 MiB measured). The SDK's supported path,
  // undici, compiles its WebAssembly HTTP parser on the first call and keeps per-connection
  // buffers: +39 MiB right after start, 160-180 MiB at the bench's peak (docs/service.md,
  // "Libraries"). 200 MiB is a fifth of the smallest task's memory (1024 MiB) and still catches a
  // leak, which grows without bound over the bench's runs.
  peakRssMiB: 200,
} as const;

export interface Check {
  readonly name: string;
  readonly measured: string;
  /** The measured value with what it was computed from, for the README. */
  readonly detail: string;
  readonly goal: string;
  readonly ok: boolean;
}

export function checks(r: BenchResult): Check[] {
  const t = BENCH_TARGETS;
  const throughput = r.hit.rps / r.floor.rps;
  const p99 = r.hit.p99 / r.floor.p99;
  const overhead = r.missSequential.p50 - r.llmDirect.p50;
  return [
    {
      name: 'hit throughput / floor',
      measured: throughput.toFixed(2),
      detail: `${throughput.toFixed(2)} (${r.hit.rps.toFixed(0)} vs ${r.floor.rps.toFixed(0)} req/s)`,
      goal: `>= ${t.hitThroughputVsFloor}`,
      ok: throughput >= t.hitThroughputVsFloor,
    },
    {
      name: 'hit p99 / floor p99',
      measured: p99.toFixed(2),
      detail: `${p99.toFixed(2)} (${r.hit.p99.toFixed(0)} vs ${r.floor.p99.toFixed(0)} ms)`,
      goal: `<= ${t.hitP99VsFloorP99}`,
      ok: p99 <= t.hitP99VsFloorP99,
    },
    {
      name: 'miss overhead above the fake LLM (median)',
      measured: `${overhead.toFixed(2)} ms`,
      detail: `${overhead.toFixed(2)} ms (${r.missSequential.p50.toFixed(2)} vs ${r.llmDirect.p50.toFixed(2)} ms)`,
      goal: `< ${t.missOverheadMedianMs} ms`,
      ok: overhead < t.missOverheadMedianMs,
    },
    {
      name: 'peak RSS of the service process',
      measured: `${r.peakRssMiB.toFixed(0)} MiB`,
      detail: `${r.peakRssMiB.toFixed(0)} MiB`,
      goal: `< ${t.peakRssMiB} MiB`,
      ok: r.peakRssMiB < t.peakRssMiB,
    },
    {
      name: '429 responses (quotas on), all runs',
      measured: String(r.quotaRejections),
      detail: String(r.quotaRejections),
      goal: '= 0',
      ok: r.quotaRejections === 0,
    },
    {
      name: 'non-2xx responses and errors, all runs',
      measured: String(r.failures),
      detail: String(r.failures),
      goal: '= 0',
      ok: r.failures === 0,
    },
  ];
}

/** What the bench prints: the paths, then the targets. */
export function renderConsole(r: BenchResult): string {
  const rows: Array<[string, string, string, string]> = [
    [`path (${r.connections} connections unless noted)`, 'req/s', 'p50 ms', 'p99 ms'],
    [
      'floor: quotas + cache lookup + insert (median)',
      r.floor.rps.toFixed(0),
      r.floor.p50.toFixed(1),
      r.floor.p99.toFixed(1),
    ],
    ['hit path POST /api/chatbot (median)', r.hit.rps.toFixed(0), r.hit.p50.toFixed(1), r.hit.p99.toFixed(1)],
    [
      `miss path, sequential (LLM delay ${r.llmDelayMs} ms)`,
      r.missSequential.rps.toFixed(0),
      r.missSequential.p50.toFixed(2),
      r.missSequential.p99.toFixed(2),
    ],
    [
      'fake LLM called directly, sequential',
      r.llmDirect.rps.toFixed(0),
      r.llmDirect.p50.toFixed(2),
      r.llmDirect.p99.toFixed(2),
    ],
    [
      "miss floor (a miss's I/O, bare), sequential",
      r.missFloor.rps.toFixed(0),
      r.missFloor.p50.toFixed(2),
      r.missFloor.p99.toFixed(2),
    ],
    ['miss path, 10 connections', r.miss10.rps.toFixed(0), r.miss10.p50.toFixed(2), r.miss10.p99.toFixed(2)],
    [
      `miss path, ${r.connections} connections (informational)`,
      r.miss50.rps.toFixed(0),
      String(r.miss50.p50),
      String(r.miss50.p99),
    ],
  ];
  const w = [44, 8, 8, 8];
  const lines = rows.map((row) =>
    row.map((c, i) => (i === 0 ? c.padEnd(w[0] as number) : c.padStart(w[i] as number))).join(' '),
  );
  lines.push('', `${'target'.padEnd(44)} ${'measured'.padStart(10)} ${'goal'.padStart(10)}  result`);
  for (const c of checks(r)) {
    lines.push(`${c.name.padEnd(44)} ${c.measured.padStart(10)} ${c.goal.padStart(10)}  ${c.ok ? 'PASS' : 'FAIL'}`);
  }
  const { verifyUncachedUs, verifyCachedUs } = r.auth;
  const cpu = r.cpuPerRequestUs;
  lines.push(
    '',
    `service CPU per request (user + system, all its threads, median of the rounds): floor ${cpu.floor.toFixed(0)} µs, ` +
      `hit ${cpu.hit.toFixed(0)} µs (${(cpu.hit / cpu.floor).toFixed(2)}x)`,
    `token verification per request (RS256, in the service process): ${verifyUncachedUs.toFixed(1)} µs verified, ` +
      `${verifyCachedUs.toFixed(1)} µs from the cache of verified tokens; at the hit rate, verifying every request would ` +
      `take ${((verifyUncachedUs * r.hit.rps) / 1e4).toFixed(1)}% of a core, the cache takes ${((verifyCachedUs * r.hit.rps) / 1e4).toFixed(1)}%`,
    `miss median above the configured ${r.llmDelayMs} ms delay: sequential ${(r.missSequential.p50 - r.llmDelayMs).toFixed(2)} ms, ` +
      `10 connections ${(r.miss10.p50 - r.llmDelayMs).toFixed(2)} ms (the fake itself answers in ${r.llmDirect.p50.toFixed(2)} ms)`,
    `the service's own time on a miss (miss median - miss floor median): ${(r.missSequential.p50 - r.missFloor.p50).toFixed(2)} ms; ` +
      `the miss floor's own time above the fake LLM: ${(r.missFloor.p50 - r.llmDirect.p50).toFixed(2)} ms (waiting on Redis, Postgres and the fake)`,
    `(${r.rounds} rounds x ${r.seconds} s; authentication and quotas on; Postgres ${r.durable ? 'with' : 'without'} fsync; ` +
      `NODE_OPTIONS="${r.nodeOptions}"; service logs written to a pipe, as in a container)`,
  );
  return lines.join('\n');
}

const README_GOALS: Record<string, string> = {
  'hit throughput / floor': 'hit throughput / floor (`POST /api/chatbot`, cached)',
  'miss overhead above the fake LLM (median)': 'miss overhead above the fake LLM, sequential, median',
  'non-2xx responses and errors, all runs': 'non-2xx and errors, all runs',
  '429 responses (quotas on), all runs': '429 answers (quotas on, limits above the load), all runs',
};

/** The README's "Measured numbers" section, between `<!-- bench:start -->` and `<!-- bench:end -->`. */
export function renderReadmeSection(r: BenchResult): string {
  const lines = [
    `\`npm run bench\` (${r.rounds} rounds × ${r.seconds} s per path, ${r.connections} connections, medians of the rounds), with`,
    'authentication on (a real RS256 JWT verified on every request) and the quotas on, as in every stage.',
    'The floor is a bare route on the same process doing the I/O a hit must do: the request-quota and',
    `storage-cap round trips and one cache lookup over TLS + AUTH, and one Postgres insert. Rendered by \`npm run docs\` from the run of ${r.date.slice(0, 10)}`,
    `(tree \`${r.commit}\`, kept in [docs/bench-result.json](docs/bench-result.json) by \`npm run bench -- --save\`), on ${r.cpus} cores shared with`,
    `other work (load average ${r.loadAverage.start.toFixed(1)} at the start, ${r.loadAverage.end.toFixed(1)} at the end):`,
    '',
    '| target | measured | goal | result |',
    '|---|---|---|---|',
    ...checks(r).map(
      (c) =>
        `| ${README_GOALS[c.name] ?? c.name} | **${c.detail}** | ${c.goal.replace('>=', '≥').replace('<=', '≤')} | ${c.ok ? 'PASS' : 'FAIL'} |`,
    ),
    '',
    `Of the miss overhead, ${(r.missSequential.p50 - r.missFloor.p50).toFixed(2)} ms is the service's own work: a bare route in the same`,
    `process doing a miss's I/O (the quota and storage-cap round trips, cache lookup, one LLM POST, cache write, the insert) answered in ${r.missFloor.p50.toFixed(2)} ms, so`,
    `${(r.missFloor.p50 - r.llmDirect.p50).toFixed(2)} ms is waiting on Redis, Postgres and the fake LLM, which grows with the machine's load.`,
    '',
    `One token verification costs ${r.auth.verifyUncachedUs.toFixed(1)} µs in the service process (signature and claims);`,
    `a token already verified is served from the cache of verified tokens in ${r.auth.verifyCachedUs.toFixed(1)} µs (docs/security.md).`,
    '',
    `Postgres ran ${r.durable ? 'with' : 'without'} fsync (\`npm run bench -- --durable\` for commits that wait for the disk).`,
    'The ratios compare the service with a floor measured in the same run on the same busy machine, so',
    'they carry between runs and machines; the absolute req/s and milliseconds move with whatever else',
    'runs. Nothing here was measured in AWS.',
  ];
  return lines.join('\n');
}

/** docs/service.md's results block: the bench's own printout. */
export function renderServiceDocBlock(r: BenchResult): string {
  return [
    `The last run (${r.date.slice(0, 10)}, tree \`${r.commit}\`, load average ${r.loadAverage.start.toFixed(1)} on ${r.cpus} cores), as printed:`,
    '',
    '```',
    renderConsole(r),
    '```',
  ].join('\n');
}

/** Keeps the run in docs/bench-result.json, the source of the README's and docs/service.md's bench blocks. */
export function saveBenchResult(r: BenchResult): void {
  writeFileSync(BENCH_RESULT_FILE, `${JSON.stringify(r, null, 2)}\n`);
}

export function readBenchResult(): BenchResult {
  return JSON.parse(readFileSync(BENCH_RESULT_FILE, 'utf8')) as BenchResult;
}
