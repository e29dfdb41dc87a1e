/**
 * The SIGTERM drain, within `DRAIN_TIMEOUT_MS` (below the ECS stop timeout):
 *
 * 1. readiness turns `not_ready` and the listening socket closes, so no new connection is accepted;
 * 2. requests in flight finish normally;
 * 3. requests that still arrive on open keep-alive connections are answered normally (never a
 *    5xx) with `Connection: close`, so each such connection ends after its answer;
 * 4. once nothing has been in flight for a short grace period, idle keep-alive connections are
 *    closed; when the last connection is gone the caller closes the pools and exits 0;
 * 5. at the deadline whatever is left is cut, and the drain still ends.
 */
import type { Server } from 'node:http';
import { Server as NetServer } from 'node:net';
import type { Logger } from './observability/logger';

export interface DrainOptions {
  readonly server: Server;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /**
   * How long the drain keeps idle keep-alive connections open once nothing is in flight, for
   * requests already on their way. @default 1000 (capped by the deadline)
   */
  readonly idleGraceMs?: number;
}

export interface DrainResult {
  readonly forced: boolean;
  readonly elapsedMs: number;
  readonly answeredDuringDrain: number;
}

export class RequestTracker {
  private inFlight = 0;
  private lastActivity = 0;
  private started = 0;

  /** Call when a request starts; returns the function to call exactly once when it ends. */
  begin(): () => void {
    this.inFlight += 1;
    this.started += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight -= 1;
      this.lastActivity = Date.now();
    };
  }

  get active(): number {
    return this.inFlight;
  }

  get total(): number {
    return this.started;
  }

  get lastActivityAt(): number {
    return this.lastActivity;
  }
}

export async function drainHttp(tracker: RequestTracker, options: DrainOptions): Promise<DrainResult> {
  const { server, timeoutMs, logger } = options;
  const startedAt = Date.now();
  const deadline = startedAt + timeoutMs;
  const idleGraceMs = options.idleGraceMs ?? 1_000;
  const startedBefore = tracker.total;

  // net.Server#close stops accepting without http.Server#close's immediate closeIdleConnections():
  // an idle keep-alive connection may be carrying a request right now, and it deserves an answer.
  const closed = new Promise<void>((resolve) => {
    NetServer.prototype.close.call(server, () => resolve());
  });

  let forced = false;
  let idleClosed = false;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now >= deadline) {
      forced = true;
      server.closeAllConnections();
      return;
    }
    const quietFor = now - Math.max(tracker.lastActivityAt, startedAt);
    if (tracker.active === 0 && (quietFor >= idleGraceMs || now + 50 >= deadline)) {
      if (!idleClosed) logger.debug('drain: closing idle keep-alive connections');
      idleClosed = true;
      server.closeIdleConnections();
    }
  }, 25);

  try {
    await closed;
  } finally {
    clearInterval(timer);
  }
  const result: DrainResult = {
    forced,
    elapsedMs: Date.now() - startedAt,
    answeredDuringDrain: tracker.total - startedBefore,
  };
  return result;
}
