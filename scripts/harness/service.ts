/**
 * The chat service as a real child process: `node <bundle>` with exactly the env it is given
 * (plus PATH), on 127.0.0.1 and an OS-chosen port (`PORT=0`, read back from the `listening` line).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { type ReadinessResponse, ROUTES } from '../../lib/contract';
import { buildService, SERVICE_DIR, SERVICE_DIST } from '../../service/build';
import { removeOnExit, spawnManaged, waitFor } from './process';

export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly event?: string;
  readonly [key: string]: unknown;
}

let testBuild: Promise<string> | undefined;

/** Under the repo's node_modules, so the bundle's `require('fastify')` resolves; gitignored. */
const HARNESS_BUILDS = path.join(SERVICE_DIR, '..', 'node_modules', '.cache', 'chat-service-harness');

/** Removes builds left by processes that no longer run (e.g. a jest worker that was killed). */
function pruneStaleBuilds(): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(HARNESS_BUILDS);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = Number(entry.split('-')[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) rmSync(path.join(HARNESS_BUILDS, entry), { recursive: true, force: true });
  }
}

/**
 * Builds the service bundle once per process (per test file under jest). `shared: true` writes the
 * real `service/dist/server.js` (local runs); otherwise a private directory, so parallel test files
 * never read each other's half-written bundle.
 */
export function ensureServiceBuilt(options: { shared?: boolean } = {}): Promise<string> {
  if (options.shared) return buildService(SERVICE_DIST);
  if (!testBuild) {
    pruneStaleBuilds();
    const dir = path.join(HARNESS_BUILDS, `${process.pid}-${randomBytes(4).toString('hex')}`);
    removeOnExit(dir);
    testBuild = buildService(path.join(dir, 'server.js'));
  }
  return testBuild;
}

export interface StartServiceProcessOptions {
  /** The service's environment (contract names, plus NODE_EXTRA_CA_CERTS / AWS_* when needed). */
  readonly env: Readonly<Record<string, string>>;
  /** Bundle to run; built with `ensureServiceBuilt()` when absent. */
  readonly bundle?: string;
  /** Resolve once `/health/ready` answers 200 (`ready`), or only once it listens. @default 'listening' */
  readonly waitFor?: 'listening' | 'ready';
  readonly timeoutMs?: number;
  /** Keep at most this many log lines. @default 20000 */
  readonly maxLogLines?: number;
  /** Receives everything the process prints (stdout and stderr), unbounded, as it arrives. */
  readonly onOutput?: (chunk: string) => void;
}

export interface ServiceProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Parsed JSON log lines (non-JSON lines as `{ raw }`), oldest first. */
  logs(): LogLine[];
  /** Everything the process printed (stdout + stderr), bounded. */
  output(): string;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  readiness(): Promise<{ status: number; body: ReadinessResponse }>;
  waitForReadiness(status: ReadinessResponse['status'], timeoutMs?: number): Promise<ReadinessResponse>;
  signal(signal: NodeJS.Signals): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, wait for the drain (bounded), SIGKILL if needed. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function parseLine(raw: string): LogLine {
  try {
    const v: unknown = JSON.parse(raw);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as LogLine;
  } catch {
    // not JSON
  }
  return { raw };
}

export async function startServiceProcess(options: StartServiceProcessOptions): Promise<ServiceProcess> {
  const bundle = options.bundle ?? (await ensureServiceBuilt());
  const timeoutMs = options.timeoutMs ?? 20_000;
  const maxLines = options.maxLogLines ?? 20_000;
  const raw: string[] = [];
  let listeningPort: number | undefined;
  const waiters = new Set<() => void>();

  const child = spawnManaged('chat-service', process.execPath, ['--enable-source-maps', bundle], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOST: '127.0.0.1', PORT: '0', ...options.env },
    cwd: path.dirname(bundle),
    ...(options.onOutput ? { onOutput: options.onOutput } : {}),
    onLine: (line) => {
      raw.push(line);
      if (raw.length > maxLines) raw.splice(0, raw.length - maxLines);
      if (listeningPort === undefined && line.includes('"listening"')) {
        const parsed = parseLine(line);
        if (parsed.event === 'listening' && typeof parsed.port === 'number') listeningPort = parsed.port;
      }
      for (const w of waiters) w();
    },
  });

  const port = await waitFor(
    () => {
      if (child.child.exitCode !== null) {
        throw new Error(`service exited with ${child.child.exitCode} before listening:\n${child.output()}`);
      }
      return listeningPort;
    },
    { timeoutMs, intervalMs: 20, what: 'the service to listen' },
  ).catch(async (err: unknown) => {
    await child.stop('SIGKILL');
    throw err;
  });
  const url = `http://127.0.0.1:${port}`;

  const readiness = async () => {
    const res = await fetch(`${url}${ROUTES.ready}`);
    return { status: res.status, body: (await res.json()) as ReadinessResponse };
  };

  const handle: ServiceProcess = {
    url,
    port,
    pid: child.child.pid ?? -1,
    logs: () => raw.map(parseLine),
    output: child.output,
    waitForLog: async (predicate, wait = 10_000) => {
      try {
        return await waitFor(() => raw.map(parseLine).find(predicate), {
          timeoutMs: wait,
          intervalMs: 25,
          what: 'a matching log line',
        });
      } catch (err) {
        // What the service did say, so a timeout in CI is diagnosable from its output alone.
        const tail = raw
          .slice(-15)
          .map(parseLine)
          .map((l) => `${l.level ?? '?'} ${l.event ?? '-'} ${String(l.msg ?? '').slice(0, 160)}`);
        throw new Error(`${(err as Error).message}; the last ${tail.length} lines:\n  ${tail.join('\n  ')}`);
      }
    },
    readiness,
    waitForReadiness: (status, wait = 15_000) =>
      waitFor(
        async () => {
          const r = await readiness();
          return r.body.status === status ? r.body : undefined;
        },
        { timeoutMs: wait, intervalMs: 100, what: `readiness ${status}` },
      ),
    signal: (sig) => {
      child.child.kill(sig);
    },
    exited: child.exited,
    stop: async (wait = 30_000) => {
      await child.stop('SIGTERM', wait);
      return child.exited;
    },
  };

  if (options.waitFor === 'ready') {
    await handle.waitForReadiness('ready', timeoutMs).catch(async (err: unknown) => {
      await child.stop('SIGKILL');
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${child.output()}`);
    });
  }
  return handle;
}
