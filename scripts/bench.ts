/**
 * `npm run bench`: measures the service's hot path against a floor, in one run, on one service
 * process, over real Postgres (SSL) and real Redis (TLS + AUTH).
 *
 * The service runs as every stage runs it: authentication on (a real JWT from the harness' token
 * issuer, RS256, verified against its JWKS over HTTPS on every request) and the quotas on, their
 * limits far above the bench's load; any 429 fails the bench, and a request without the token must
 * be answered 401.
 *
 * - hit path: `POST /api/chatbot` with a cached question (the token check, the request-quota and
 *   storage-cap round trips, one cache lookup, one insert of both messages, plus validation,
 *   hashing, rate limit, logs and metrics), at 50 connections;
 * - floor: a minimal Fastify route in the same process doing the same I/O (the request-quota and
 *   storage-cap round trips, one lookup and the same insert) over the same TLS + AUTH connections,
 *   at 50 connections;
 * - miss overhead: sequential misses (unique questions) against sequential calls made directly to
 *   the fake LLM with the same delay: the difference of the medians is what the service adds above
 *   the LLM's delay as a client sees it (the fake's timer and HTTP handling included on both sides).
 *   The misses, the direct calls and the miss floor (below) alternate in blocks of 50.
 *   Also printed: the same median against the configured delay, and misses at 10 connections;
 * - miss floor: a bare route doing a miss's I/O (the quota and storage-cap round trips, cache lookup, one LLM POST,
 *   cache write, the insert),
 *   sequential: the miss minus this floor is the service's own work, whatever the machine's load;
 *   By default Postgres runs without fsync so the shared disk's fsync latency (1-6 ms here, varying
 *   with whatever else runs) does not drown the service's own overhead; `--durable` turns it on;
 * - miss path at 50 connections (informational), and the service's peak RSS;
 * - the cost of one token verification in the service process, with and without the cache of
 *   verified tokens (`service/src/auth/verified-token-cache.ts`).
 *
 * Floor and hit alternate over several rounds; the table shows medians and the ratios, with the
 * targets (`BENCH_TARGETS` in bench-report.ts) and PASS/FAIL. Exit code 1 when a target fails.
 *
 *   npm run bench                     # defaults: 3 rounds of 8 s
 *   npm run bench -- --rounds 5 --seconds 10
 *   npm run bench -- --durable        # Postgres with fsync: commits wait for the disk
 *   npm run bench -- --save           # also keeps the run in docs/bench-result.json; then
 *                                     # `npm run docs` renders the README's and docs/service.md's numbers
 *   npm run bench -- --cpu-prof DIR   # the service process writes a V8 CPU profile to DIR on exit
 *
 * The measured process is `scripts/harness/bench-target.ts`, compiled by esbuild and run by plain
 * `node`: the production bundle (`startChatApi` from dist/server.js) plus the floor route.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import autocannon from 'autocannon';
import { build } from 'esbuild';
import { ROUTES } from '../lib/contract';
import { SERVICE_NODE_OPTIONS } from '../service/build';
import { type BenchResult, checks, renderConsole, saveBenchResult } from './bench-report';
import {
  ensureServiceBuilt,
  type LocalStack,
  serviceEnvFor,
  startLocalStack,
  UNBOUNDED_QUOTAS,
  waitFor,
} from './harness';
import {
  BENCH_HIT_MESSAGE,
  type BenchTargetMessage,
  type BenchTargetRequest,
  FLOOR_PATH,
  MISS_FLOOR_PATH,
} from './harness/bench-target';

type TargetMessage = BenchTargetMessage;

const CONNECTIONS = 50;
const LLM_DELAY_MS = 50;
const HIT_MESSAGE = BENCH_HIT_MESSAGE;

interface Run {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  readonly non2xx: number;
  /** Of `non2xx`: answered 429 (a quota or the rate limit). */
  readonly rejected: number;
  readonly errors: number;
}

async function load(options: autocannon.Options): Promise<Run> {
  const result = await autocannon({ ...options, connections: options.connections ?? CONNECTIONS });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    rejected: result.statusCodeStats[429]?.count ?? 0,
    errors: result.errors + result.timeouts,
  };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

const chatBody = (message: string) => JSON.stringify({ message });

interface Sequential {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly rejected: number;
  readonly times?: readonly number[];
}

const sum = (runs: readonly { non2xx: number; rejected: number }[], k: 'non2xx' | 'rejected') =>
  runs.reduce((n, r) => n + r[k], 0);

/** `perConnection` sequential requests on each of `connections` keep-alive connections at once. */
async function timeConcurrent(
  connections: number,
  perConnection: number,
  url: string,
  headers: Record<string, string>,
  body: () => string,
): Promise<Sequential> {
  const agents = Array.from({ length: connections }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const started = performance.now();
  const runs = await Promise.all(agents.map((a) => timeSequential(perConnection, a, url, headers, body, true)));
  const elapsed = performance.now() - started;
  for (const a of agents) a.destroy();
  const all = runs.flatMap((r) => r.times ?? []).sort((a, b) => a - b);
  return {
    rps: (connections * perConnection * 1000) / elapsed,
    p50: median(all),
    p99: all[Math.min(all.length - 1, Math.floor(all.length * 0.99))] as number,
    non2xx: sum(runs, 'non2xx'),
    rejected: sum(runs, 'rejected'),
  };
}

/** Blocks of sequential runs as one: medians and p99 over all their requests. */
function combine(runs: readonly Sequential[]): Sequential {
  const all = runs.flatMap((r) => r.times ?? []).sort((a, b) => a - b);
  const seconds = runs.reduce((t, r) => t + (r.times?.length ?? 0) / r.rps, 0);
  return {
    rps: all.length / seconds,
    p50: median(all),
    p99: all[Math.min(all.length - 1, Math.floor(all.length * 0.99))] as number,
    non2xx: sum(runs, 'non2xx'),
    rejected: sum(runs, 'rejected'),
  };
}

/** `n` requests one after another on one keep-alive connection, timed with performance.now(). */
async function timeSequential(
  n: number,
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  body: () => string,
  keepTimes = false,
): Promise<Sequential> {
  const times: number[] = [];
  let non2xx = 0;
  let rejected = 0;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'POST', headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body());
    });
    times.push(performance.now() - t0);
    if (status < 200 || status > 299) non2xx += 1;
    if (status === 429) rejected += 1;
  }
  const sorted = times.sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
  return {
    rps: (n * 1000) / (performance.now() - started),
    p50: median(sorted),
    p99: at(0.99),
    non2xx,
    rejected,
    ...(keepTimes ? { times: sorted } : {}),
  };
}

function parseArgs(argv: readonly string[]): {
  rounds: number;
  seconds: number;
  durable: boolean;
  save: boolean;
  cpuProfDir: string | undefined;
} {
  const out = {
    rounds: 3,
    seconds: 8,
    durable: false,
    save: false,
    cpuProfDir: undefined as string | undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rounds') out.rounds = Number(argv[++i]);
    else if (argv[i] === '--seconds') out.seconds = Number(argv[++i]);
    else if (argv[i] === '--durable') out.durable = true;
    else if (argv[i] === '--save') out.save = true;
    else if (argv[i] === '--cpu-prof') out.cpuProfDir = path.resolve(argv[++i] ?? '.');
    else {
      throw new Error(`unknown flag ${argv[i]} (known: --rounds N, --seconds N, --durable, --save, --cpu-prof DIR)`);
    }
  }
  if (!(out.rounds >= 1 && out.seconds >= 1)) throw new Error('--rounds and --seconds must be >= 1');
  return out;
}

async function main(): Promise<void> {
  const { rounds, seconds, durable, save, cpuProfDir } = parseArgs(process.argv.slice(2));
  const loadAtStart = os.loadavg()[0] as number;
  const commit = execFileSync('git', ['describe', '--always', '--dirty'], { cwd: path.join(__dirname, '..') })
    .toString()
    .trim();
  console.log(
    `bench: ${rounds} rounds x ${seconds} s per path, ${CONNECTIONS} connections, Postgres ${durable ? 'with fsync (durable)' : 'without fsync'}`,
  );
  const bundle = await ensureServiceBuilt();
  // Next to the service bundle, so it resolves node_modules the same way.
  const targetJs = path.join(path.dirname(bundle), 'bench-target.js');
  await build({
    entryPoints: [path.join(__dirname, 'harness', 'bench-target.ts')],
    outfile: targetJs,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    packages: 'external',
    logLevel: 'warning',
  });
  let stack: LocalStack | undefined;
  let child: ChildProcess | undefined;
  let drain: ChildProcess | undefined;
  try {
    stack = await startLocalStack({
      startService: false,
      durablePostgres: durable,
      llm: { latencyMs: LLM_DELAY_MS },
      // The harness' token issuer (RSA keys of this run, JWKS over HTTPS): the service verifies
      // every API request's token, as in every stage.
      auth: 'issuer',
    });
    const issuer = stack.issuer;
    if (!issuer) throw new Error('the local stack started without its token issuer');
    const env = serviceEnvFor(stack, {
      APP_VERSION: 'bench',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      // The limiter and the quotas (one bench principal, counted in Redis) run on every request;
      // their limits are far above the bench's load, and a 429 fails the bench.
      RATE_LIMIT_PER_MINUTE: '1000000',
      ...UNBOUNDED_QUOTAS,
      BENCH_BUNDLE: bundle,
    });
    if (env.AUTH_MODE !== undefined || !env.AUTH_ISSUER) throw new Error('the bench must run with authentication on');
    // The service's stdout goes to a pipe drained by a separate fast reader (`wc -c`), like a
    // container's log driver, not to this busy process: a slow reader would block its writes.
    drain = spawn('wc', ['-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let logBytesText = '';
    drain.stdout?.on('data', (c: Buffer) => {
      logBytesText += c.toString();
    });
    const profile = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
    child = spawn(process.execPath, [...profile, targetJs], {
      // Exactly the image's Node flags: what is measured is what runs.
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: SERVICE_NODE_OPTIONS, ...env },
      stdio: ['ignore', drain.stdin ?? 'ignore', 'pipe', 'ipc'],
    });
    drain.stdin?.destroy();
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-4000);
    });
    const messages: TargetMessage[] = [];
    child.on('message', (m: TargetMessage) => messages.push(m));
    const target = child;
    /** Sends `request` and waits for the target's next answer of type `type`. */
    const ask = <T extends TargetMessage['type']>(
      request: BenchTargetRequest,
      type: T,
      timeoutMs = 10_000,
    ): Promise<Extract<TargetMessage, { type: T }>> => {
      const from = messages.length;
      target.send(request);
      return waitFor(
        () => messages.slice(from).find((m): m is Extract<TargetMessage, { type: T }> => m.type === type),
        { timeoutMs, intervalMs: 10, what: `the bench target's ${type} answer` },
      );
    };
    const ready = await waitFor(
      () => {
        if (target.exitCode !== null) throw new Error(`bench target exited: ${stderr}`);
        return messages.find((m): m is Extract<TargetMessage, { type: 'ready' }> => m.type === 'ready');
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'the bench target to start' },
    );
    await waitFor(async () => (await fetch(`${ready.serviceUrl}${ROUTES.ready}`)).status === 200, {
      timeoutMs: 30_000,
      what: 'the service to be ready',
    });

    const hitUrl = `${ready.serviceUrl}${ROUTES.chat}`;
    const floorUrl = `${ready.floorUrl}${FLOOR_PATH}`;
    // One user's access token for the whole run (a client reuses its token until it expires). The
    // floor gets the same headers, so both parse the same request.
    const authorization = `Bearer ${issuer.mint({ sub: 'bench-user', expiresInSeconds: 3600 })}`;
    const post = {
      method: 'POST' as const,
      headers: { 'content-type': 'application/json', authorization },
    };
    const metricsHeaders = { authorization };

    // Authentication is on: without the token the chat route is a 401.
    const anonymous = await fetch(hitUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chatBody(HIT_MESSAGE),
    });
    if (anonymous.status !== 401) throw new Error(`a request without a token got ${anonymous.status}, not 401`);
    // Prime the cache and check that the hit path really is a hit.
    await fetch(hitUrl, { ...post, body: chatBody(HIT_MESSAGE) });
    const probe = await fetch(hitUrl, { ...post, body: chatBody(HIT_MESSAGE) });
    if (probe.headers.get('x-cache') !== 'HIT') throw new Error(`the hit path did not hit the cache (${probe.status})`);

    // What one verification costs in the service process, before the load (nothing else runs in it).
    const verify = await ask({ type: 'verify-cost', authorization }, 'verify-cost', 60_000);

    console.log('warm-up...');
    await load({ url: floorUrl, ...post, body: chatBody(HIT_MESSAGE), duration: 3 });
    await load({ url: hitUrl, ...post, body: chatBody(HIT_MESSAGE), duration: 3 });

    const floorRuns: Run[] = [];
    const hitRuns: Run[] = [];
    // The service process's CPU time (user + system) per request of each run: less sensitive to
    // the machine's load than req/s (it still falls as throughput rises: more requests share each
    // wake-up and write), it shows what the hit path costs above the floor.
    const cpuPerRequest = { floor: [] as number[], hit: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ['floor', 'hit'] : ['hit', 'floor'];
      for (const which of order) {
        const before = (await (
          await fetch(`${ready.serviceUrl}${ROUTES.cacheMetrics}`, { headers: metricsHeaders })
        ).json()) as { hits: number };
        const cpuBefore = await ask({ type: 'cpu' }, 'cpu');
        const run = await load({
          url: which === 'floor' ? floorUrl : hitUrl,
          ...post,
          body: chatBody(HIT_MESSAGE),
          duration: seconds,
        });
        const cpuAfter = await ask({ type: 'cpu' }, 'cpu');
        const cpuUs = (cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system) / run.requests;
        (which === 'floor' ? cpuPerRequest.floor : cpuPerRequest.hit).push(cpuUs);
        if (which === 'hit') {
          const after = (await (
            await fetch(`${ready.serviceUrl}${ROUTES.cacheMetrics}`, { headers: metricsHeaders })
          ).json()) as { hits: number };
          // Every request of the hit run must have been a cache hit, or the comparison is void.
          if (after.hits - before.hits < run.requests) {
            throw new Error(`hit run had ${run.requests} requests but only ${after.hits - before.hits} cache hits`);
          }
        }
        (which === 'floor' ? floorRuns : hitRuns).push(run);
        console.log(
          `  round ${r + 1} ${which.padEnd(5)} ${run.rps.toFixed(0).padStart(6)} req/s  p50 ${run.p50} ms  p99 ${run.p99} ms  CPU ${cpuUs.toFixed(0)} µs/req  non-2xx ${run.non2xx} (429: ${run.rejected})  errors ${run.errors}`,
        );
      }
    }

    // Miss overhead: sequential misses (each a unique question) timed with sub-millisecond
    // precision, against the fake LLM's configured delay and against calling the fake directly.
    console.log('miss path...');
    let seq = 0;
    const uniqueMiss = () => chatBody(`bench miss ${process.pid} ${seq++}`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const llmBody = JSON.stringify({ model: stack.llm.model, messages: [{ role: 'user', content: 'x' }] });
    const llmHeaders = { 'content-type': 'application/json', authorization: `Bearer ${stack.llmApiKey}` };
    await timeSequential(20, agent, hitUrl, post.headers, uniqueMiss); // warm-up
    await timeSequential(20, agent, `${ready.floorUrl}${MISS_FLOOR_PATH}`, post.headers, uniqueMiss);
    // The three alternate in blocks of 50, so a change in the machine's load hits all of them alike.
    const blocks = { miss: [] as Sequential[], direct: [] as Sequential[], floor: [] as Sequential[] };
    for (let b = 0; b < 6; b++) {
      blocks.miss.push(await timeSequential(50, agent, hitUrl, post.headers, uniqueMiss, true));
      blocks.direct.push(
        await timeSequential(50, agent, `${stack.llm.baseUrl}/chat/completions`, llmHeaders, () => llmBody, true),
      );
      blocks.floor.push(
        await timeSequential(50, agent, `${ready.floorUrl}${MISS_FLOOR_PATH}`, post.headers, uniqueMiss, true),
      );
    }
    const missSeq = combine(blocks.miss);
    const llmDirect = combine(blocks.direct);
    const missFloor = combine(blocks.floor);
    agent.destroy();
    const miss10 = await timeConcurrent(10, 60, hitUrl, post.headers, uniqueMiss);
    const missRequest = {
      ...post,
      setupRequest: (req: { body?: string }) => ({ ...req, body: uniqueMiss() }),
    };
    const miss50 = await load({ url: hitUrl, duration: Math.max(3, Math.round(seconds / 2)), requests: [missRequest] });

    const rss = await ask({ type: 'rss' }, 'rss');

    const stats = (r: { rps: number; p50: number; p99: number }) => ({ rps: r.rps, p50: r.p50, p99: r.p99 });
    const result: BenchResult = {
      date: new Date().toISOString(),
      commit,
      cpus: os.cpus().length,
      loadAverage: { start: loadAtStart, end: os.loadavg()[0] as number },
      rounds,
      seconds,
      connections: CONNECTIONS,
      durable,
      llmDelayMs: LLM_DELAY_MS,
      nodeOptions: SERVICE_NODE_OPTIONS,
      floor: {
        rps: median(floorRuns.map((r) => r.rps)),
        p50: median(floorRuns.map((r) => r.p50)),
        p99: median(floorRuns.map((r) => r.p99)),
      },
      hit: {
        rps: median(hitRuns.map((r) => r.rps)),
        p50: median(hitRuns.map((r) => r.p50)),
        p99: median(hitRuns.map((r) => r.p99)),
      },
      missSequential: stats(missSeq),
      llmDirect: stats(llmDirect),
      missFloor: stats(missFloor),
      miss10: stats(miss10),
      miss50: stats(miss50),
      peakRssMiB: rss.maxRssKiB / 1024,
      failures:
        [...floorRuns, ...hitRuns, miss50].reduce((n, r) => n + r.non2xx + r.errors, 0) +
        missSeq.non2xx +
        missFloor.non2xx +
        miss10.non2xx,
      quotaRejections: sum([...floorRuns, ...hitRuns, miss50, missSeq, missFloor, miss10], 'rejected'),
      auth: { verifyUncachedUs: verify.uncachedUs, verifyCachedUs: verify.cachedUs },
      cpuPerRequestUs: { floor: median(cpuPerRequest.floor), hit: median(cpuPerRequest.hit) },
    };
    console.log(`\n${renderConsole(result)}`);
    process.exitCode = checks(result).every((c) => c.ok) ? 0 : 1;
    if (save) {
      saveBenchResult(result);
      console.log(
        'saved this run to docs/bench-result.json: `npm run docs` renders the README and docs/service.md from it',
      );
    }

    target.send({ type: 'stop' } satisfies BenchTargetRequest);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        target.kill('SIGKILL');
        resolve();
      }, 30_000);
      target.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
    // The service has exited, so the pipe is closed: `wc` prints its count and ends.
    const wc = drain;
    await new Promise<void>((resolve) => {
      if (wc.exitCode !== null) resolve();
      else wc.once('exit', () => resolve());
    });
    const logBytes = Number(logBytesText.trim());
    if (Number.isFinite(logBytes)) console.log(`service wrote ${(logBytes / 1e6).toFixed(1)} MB of logs and metrics`);
    if (cpuProfDir) console.log(`the service's CPU profile is in ${cpuProfDir}`);
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (drain && drain.exitCode === null) drain.kill('SIGKILL');
    await stack?.stop();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
}
