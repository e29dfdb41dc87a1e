/**
 * Retention: messages older than MESSAGE_RETENTION_DAYS are deleted, then the sessions without a
 * turn since that cut-off (a session's `updated_at` is its last turn, so it has no message left).
 *
 * Every task runs it, every {@link RETENTION_INTERVAL_MS} (±20%, so tasks do not run in step), and
 * only while the database is usable (its first proof applied the migrations and their indexes).
 * The work is bounded: each statement deletes at most `batchSize` rows, a run makes at most
 * `maxBatches` statements per table, and it stops early once a batch comes back short. Several
 * tasks can run at once: each batch picks its rows `FOR UPDATE SKIP LOCKED`, so two runs delete
 * different rows and never wait on each other, nor on a turn that is appending to a session (that
 * session's row is locked, skipped, and its `updated_at` is fresh once the turn commits).
 * Each run logs one `retention` line (and adds to the RetentionDeletedMessages metric).
 */
import type { HealthGate } from '../chat/chat-service';
import type { Logger } from '../observability/logger';
import type { EmfMetrics } from '../observability/metrics';
import type { Database } from './database';
import { SCHEMA } from './migrations';

export const RETENTION_INTERVAL_MS = 15 * 60 * 1000;
/** The first run waits this long after start (the migrations, the first requests). */
export const RETENTION_FIRST_DELAY_MS = 60 * 1000;

export interface RetentionOptions {
  readonly days: number;
  /** Rows per statement. @default 1000 (well inside the pool's 5 s statement timeout) */
  readonly batchSize?: number;
  /** Statements per table and run. @default 50 */
  readonly maxBatches?: number;
  readonly intervalMs?: number;
  readonly firstDelayMs?: number;
}

export interface RetentionRun {
  readonly deletedMessages: number;
  readonly deletedSessions: number;
  readonly batches: number;
  /** False when the run stopped at `maxBatches` with old rows possibly left (the next run goes on). */
  readonly complete: boolean;
}

const DELETE_OLD_MESSAGES = `
  DELETE FROM ${SCHEMA}.messages WHERE id IN (
    SELECT id FROM ${SCHEMA}.messages
    WHERE created_at < now() - make_interval(days => $1)
    ORDER BY created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  )`;

/** `NOT EXISTS` keeps the batch bounded: deleting a session never cascades to messages. */
const DELETE_IDLE_SESSIONS = `
  DELETE FROM ${SCHEMA}.sessions WHERE id IN (
    SELECT s.id FROM ${SCHEMA}.sessions s
    WHERE s.updated_at < now() - make_interval(days => $1)
      AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.messages m WHERE m.session_id = s.id)
    ORDER BY s.updated_at
    LIMIT $2
    FOR UPDATE OF s SKIP LOCKED
  )`;

export class MessageRetention {
  private readonly batchSize: number;
  private readonly maxBatches: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    private readonly db: Pick<Database, 'query'>,
    private readonly options: RetentionOptions,
    private readonly deps: {
      readonly logger: Logger;
      readonly metrics?: Pick<EmfMetrics, 'increment'>;
      readonly databaseHealth?: Pick<HealthGate, 'usable'>;
    },
  ) {
    this.batchSize = options.batchSize ?? 1000;
    this.maxBatches = options.maxBatches ?? 50;
  }

  /** One bounded run; logs its line. Rejects when a statement fails (the caller logs and goes on). */
  async runOnce(): Promise<RetentionRun> {
    const startedAt = performance.now();
    let batches = 0;
    const phase = async (sql: string): Promise<{ deleted: number; complete: boolean }> => {
      let deleted = 0;
      for (let i = 0; i < this.maxBatches; i++) {
        const result = await this.db.query({ text: sql, values: [this.options.days, this.batchSize] });
        batches += 1;
        const n = result.rowCount ?? 0;
        deleted += n;
        if (n < this.batchSize) return { deleted, complete: true };
      }
      return { deleted, complete: false };
    };
    const messages = await phase(DELETE_OLD_MESSAGES);
    const sessions = await phase(DELETE_IDLE_SESSIONS);
    const run: RetentionRun = {
      deletedMessages: messages.deleted,
      deletedSessions: sessions.deleted,
      batches,
      complete: messages.complete && sessions.complete,
    };
    this.deps.metrics?.increment('retentionDeletedMessages', run.deletedMessages);
    this.deps.logger.info('retention run', {
      event: 'retention',
      retention_days: this.options.days,
      deleted_messages: run.deletedMessages,
      deleted_sessions: run.deletedSessions,
      batches: run.batches,
      complete: run.complete,
      ms: Math.round(performance.now() - startedAt),
    });
    return run;
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.options.firstDelayMs ?? RETENTION_FIRST_DELAY_MS);
  }

  /** Stops scheduling; resolves once a run under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick().finally(() => {
        this.running = undefined;
        const interval = this.options.intervalMs ?? RETENTION_INTERVAL_MS;
        this.schedule(interval * (0.8 + 0.4 * Math.random()));
      });
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.deps.databaseHealth && !this.deps.databaseHealth.usable) {
      this.deps.logger.info('retention run skipped: the database is not usable', { event: 'retention_skipped' });
      return;
    }
    try {
      await this.runOnce();
    } catch (err) {
      // The database monitor learns of outages from requests and probes; a failed run waits for the next.
      this.deps.logger.warn('retention run failed', {
        event: 'retention_failed',
        error: err instanceof Error ? err.message : String(err),
        code: (err as { code?: unknown })?.code,
      });
    }
  }
}
