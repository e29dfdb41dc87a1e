/**
 * Child processes, temp dirs, ports and bounded waits for the harness.
 *
 * Every child is registered and killed when `stop()` is called, and again (SIGKILL) when this process
 * exits. Where `setpriv` exists (util-linux, on every Debian/Ubuntu), children also get
 * PDEATHSIG=SIGKILL, so even a parent killed with SIGKILL leaves no Postgres or Redis behind.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

const SETPRIV = '/usr/bin/setpriv';
let pdeathsigSupported: boolean | undefined;
function canUsePdeathsig(): boolean {
  if (pdeathsigSupported === undefined) {
    pdeathsigSupported =
      existsSync(SETPRIV) && spawnSync(SETPRIV, ['--pdeathsig', 'SIGKILL', 'true'], { stdio: 'ignore' }).status === 0;
  }
  return pdeathsigSupported;
}

export interface ManagedChild {
  readonly child: ChildProcess;
  readonly name: string;
  /** stdout + stderr so far (bounded to the last ~1 MiB). */
  output(): string;
  /** Resolves with the exit code/signal; never rejects. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal`, waits up to `timeoutMs` for the exit, then SIGKILLs. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export interface SpawnManagedOptions extends SpawnOptions {
  /** Called with every complete stdout line. */
  readonly onLine?: (line: string) => void;
  /**
   * Called with every chunk of stdout and stderr, unbounded (`output()` keeps only the last ~1 MiB):
   * for callers that must see everything a process printed, e.g. a scan for leaked secrets.
   */
  readonly onOutput?: (chunk: string) => void;
}

const MAX_OUTPUT = 1 << 20;

export function spawnManaged(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnManagedOptions = {},
): ManagedChild {
  installExitHook();
  const { onLine, onOutput, ...spawnOptions } = options;
  const [cmd, argv] = canUsePdeathsig()
    ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', command, ...args]]
    : [command, [...args]];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  children.add(child);
  let output = '';
  let partial = '';
  const append = (chunk: string) => {
    onOutput?.(chunk);
    output += chunk;
    if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT / 2);
  };
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    append(chunk);
    if (!onLine) return;
    partial += chunk;
    let nl = partial.indexOf('\n');
    while (nl !== -1) {
      onLine(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
  });
  child.stderr?.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => {
      append(`\n[harness] ${name} failed to spawn: ${err.message}\n`);
      children.delete(child);
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null && children.has(child);
  return {
    child,
    name,
    output: () => output,
    exited,
    stop: async (signal = 'SIGTERM', timeoutMs = 10_000) => {
      if (!alive()) return;
      child.kill(signal);
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      if ((await Promise.race([exited, timer])) === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** A temp dir removed by `removeTempDir` or at process exit. */
export function makeTempDir(prefix: string): string {
  installExitHook();
  const dir = mkdtempSync(path.join(tmpdir(), `chat-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Removes `dir` when this process exits (e.g. a build output that only this process uses). */
export function removeOnExit(dir: string): void {
  installExitHook();
  tempDirs.add(dir);
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** A port that was free a moment ago on 127.0.0.1 (for servers that can't bind port 0 themselves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what: string;
}

/**
 * Polls `probe` until it returns a value other than undefined/false (a throw counts as "not yet"),
 * or fails after `timeoutMs` with the last error.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Runs a command to completion; throws with its output when it fails. */
export function runOrThrow(command: string, args: readonly string[], options: SpawnOptions = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
  }
  return String(result.stdout ?? '');
}
