/**
 * A conversation's owner can read it back and delete it (`GET /api/v1/sessions/{id}/messages`,
 * `DELETE /api/v1/sessions/{id}`). Anyone else, and any id the server never issued, gets the one
 * `404 not_found "No such session."` the chat routes give: the same status, body and headers, and
 * the same work (one statement that names the owner and finds nothing), so the answer does not tell
 * whether someone else's session exists.
 *
 * Deleting goes in this order: the session is checked to be the caller's; its cache entries are
 * deleted and a tombstone written (`session-index.ts`); then the rows. While the cache is unusable
 * the deletion is refused with a 503 and nothing is deleted: deleting the rows alone would leave
 * entries that replay the conversation's follow-ups until they expire, and a retry after the rows
 * were gone would be a 404 with no way to reach them. A deletion whose rows fail after the entries
 * went is simply retried (both steps are idempotent).
 */
import type { SessionMessage, SessionMessagesResponse } from '../../../lib/contract';
import type { SessionCacheIndex } from '../cache/session-index';
import type { ConversationStore } from '../db/chat-store';
import { dependencyUnavailable, sessionNotFound } from '../errors';
import type { Logger } from '../observability/logger';
import { CREDENTIAL_REFRESH_WAIT_MS, type DatabaseGate, type HealthGate, withDatabase } from './chat-service';

export interface ConversationsDeps {
  readonly store: ConversationStore;
  readonly sessionIndex: Pick<SessionCacheIndex, 'forget'>;
  readonly databaseHealth: DatabaseGate;
  readonly cacheHealth: HealthGate;
}

export interface HistoryPage {
  readonly limit: number;
  readonly before?: number;
}

export class Conversations {
  constructor(private readonly deps: ConversationsDeps) {}

  async page(owner: string, sessionId: string, page: HistoryPage, logger: Logger): Promise<SessionMessagesResponse> {
    const found = await this.onDatabase(() => this.deps.store.ownedPage(sessionId, owner, page), logger);
    if (found === null) throw sessionNotFound();
    const messages: SessionMessage[] = found.messages.map((m) => ({
      seq: m.seq,
      role: m.role,
      content: m.content,
      created_at: m.createdAt.toISOString(),
    }));
    return {
      session_id: sessionId,
      messages,
      next_before: found.more && messages.length > 0 ? (messages[0] as SessionMessage).seq : null,
    };
  }

  async delete(owner: string, sessionId: string, logger: Logger): Promise<void> {
    const { store, sessionIndex, cacheHealth } = this.deps;
    if (!(await this.onDatabase(() => store.owns(sessionId, owner), logger))) throw sessionNotFound();
    if (!cacheHealth.usable) throw cacheNeeded();
    let entries: number;
    try {
      entries = await sessionIndex.forget(sessionId);
    } catch (err) {
      cacheHealth.reportFailure(err);
      logger.warn('session cache entries could not be deleted; the session is kept', {
        error: err instanceof Error ? err.message : String(err),
      });
      throw cacheNeeded();
    }
    const deleted = await this.onDatabase(() => store.deleteOwned(sessionId, owner), logger);
    // `false`: another request of the owner's (or retention) deleted it meanwhile; gone either way.
    logger.info('session deleted', { event: 'session_deleted', cache_entries: entries, raced: !deleted });
  }

  /** As the chat turn does: refuse early when the database is down, unless new credentials are being read. */
  private async onDatabase<T>(operation: () => Promise<T>, logger: Logger): Promise<T> {
    const gate = this.deps.databaseHealth;
    if (!gate.usable && !(await gate.waitUsable(CREDENTIAL_REFRESH_WAIT_MS))) {
      throw dependencyUnavailable('The database is unavailable; retry later.');
    }
    return withDatabase(gate, operation, logger);
  }
}

const cacheNeeded = () =>
  dependencyUnavailable('The cache is unavailable, so the conversation cannot be deleted completely; retry later.');
