/**
 * Sessions and messages. Both messages of a turn are written by one statement (so one round trip
 * and one commit): a 200 means the user's message and the answer are both durable.
 *
 * Sessions are owned: the server issues their ids, and every read or write of an existing session
 * names its owner (`owner_sub`, the token's `sub`) in the same statement, so a session another
 * principal started is never read, extended or even confirmed to exist. The same holds for reading
 * a conversation back and deleting it ({@link ConversationStore}).
 */
import type { ContextTurn } from '../chat/cache-key';
import type { Database } from './database';
import { SCHEMA } from './migrations';

export interface TurnRecord {
  readonly sessionId: string;
  /** The principal (`sub`) the session belongs to. */
  readonly owner: string;
  /** True for the first turn of a session whose id the server has just issued. */
  readonly newSession: boolean;
  readonly requestId: string;
  readonly userMessage: string;
  readonly reply: string;
  readonly cached: boolean;
}

export interface ChatStore {
  /**
   * The last `turns` exchanges of a session owned by `owner`, oldest first; `null` when there is no
   * such session or it belongs to someone else (the two are deliberately indistinguishable).
   */
  ownedContext(sessionId: string, owner: string, turns: number): Promise<ContextTurn[] | null>;
  /** Stores a turn; `false` when the (existing) session is not `owner`'s, and then nothing is written. */
  saveTurn(turn: TurnRecord): Promise<boolean>;
}

export interface StoredMessage {
  readonly seq: number;
  readonly role: 'user' | 'assistant';
  readonly content: string;
  readonly createdAt: Date;
}

/** Reading and deleting whole conversations; the same ownership rule as {@link ChatStore}. */
export interface ConversationStore {
  /**
   * Up to `limit` messages with `seq < before` (any, without `before`), the newest of them, oldest
   * first; plus whether older ones exist. `null` when the session is not `owner`'s or does not exist.
   */
  ownedPage(
    sessionId: string,
    owner: string,
    page: { readonly limit: number; readonly before?: number },
  ): Promise<{ messages: StoredMessage[]; more: boolean } | null>;
  /** Whether `owner` has this session (the deletion's first step, before its cache entries go). */
  owns(sessionId: string, owner: string): Promise<boolean>;
  /** Deletes the session and its messages (cascade); `false` when there was no such session of `owner`'s. */
  deleteOwned(sessionId: string, owner: string): Promise<boolean>;
}

// Named statements are parsed and planned once per connection, then only executed.
const MESSAGES_OF = (source: string) => `
    INSERT INTO ${SCHEMA}.messages (session_id, role, content, request_id, cached)
    SELECT s.id, m.role, m.content, $5, $6
    FROM ${source} s, (VALUES (1, 'user', $3::text), (2, 'assistant', $4::text)) AS m(ord, role, content)
    ORDER BY m.ord`;

/** A server-issued id (a random UUID): a conflict is impossible in practice and then fails loudly. */
const SAVE_NEW_SESSION_TURN = {
  name: 'chat-save-new-session-turn',
  text: `
    WITH s AS (
      INSERT INTO ${SCHEMA}.sessions (id, user_id, owner_sub) VALUES ($1, $2, $2)
      RETURNING id
    )${MESSAGES_OF('s')}`,
};

const SAVE_OWNED_TURN = {
  name: 'chat-save-owned-turn',
  text: `
    WITH s AS (
      UPDATE ${SCHEMA}.sessions SET updated_at = now()
      WHERE id = $1 AND owner_sub = $2
      RETURNING id
    )${MESSAGES_OF('s')}`,
};

/** One row per message (newest first), or one row with NULL role for an owned session without messages. */
const OWNED_RECENT = {
  name: 'chat-owned-recent-context',
  text: `
    SELECT m.role, m.content
    FROM ${SCHEMA}.sessions s
    LEFT JOIN LATERAL (
      SELECT id, role, content FROM ${SCHEMA}.messages
      WHERE session_id = s.id
      ORDER BY id DESC
      LIMIT $3
    ) m ON true
    WHERE s.id = $1 AND s.owner_sub = $2
    ORDER BY m.id DESC`,
};

/** `limit + 1` rows, to tell whether an older page exists; one NULL row for an owned session without any. */
const OWNED_PAGE = {
  name: 'chat-owned-page',
  text: `
    SELECT m.seq, m.role, m.content, m.created_at
    FROM ${SCHEMA}.sessions s
    LEFT JOIN LATERAL (
      SELECT seq, role, content, created_at FROM ${SCHEMA}.messages
      WHERE session_id = s.id AND seq < $3
      ORDER BY seq DESC
      LIMIT $4
    ) m ON true
    WHERE s.id = $1 AND s.owner_sub = $2
    ORDER BY m.seq`,
};

const OWNS = {
  name: 'chat-owns-session',
  text: `SELECT 1 FROM ${SCHEMA}.sessions WHERE id = $1 AND owner_sub = $2`,
};

const DELETE_OWNED = {
  name: 'chat-delete-owned-session',
  text: `DELETE FROM ${SCHEMA}.sessions WHERE id = $1 AND owner_sub = $2`,
};

/** Larger than any `seq` (a Postgres integer). */
const AFTER_LAST = 2_147_483_647;

export class PgChatStore implements ChatStore, ConversationStore {
  constructor(private readonly db: Database) {}

  async ownedContext(sessionId: string, owner: string, turns: number): Promise<ContextTurn[] | null> {
    const result = await this.db.query<{ role: 'user' | 'assistant' | null; content: string | null }>({
      ...OWNED_RECENT,
      values: [sessionId, owner, turns * 2],
    });
    if (result.rows.length === 0) return null;
    return result.rows
      .filter((r): r is { role: 'user' | 'assistant'; content: string } => r.role !== null && r.content !== null)
      .reverse()
      .map((r) => ({ role: r.role, content: r.content }));
  }

  async saveTurn(turn: TurnRecord): Promise<boolean> {
    const result = await this.db.query({
      ...(turn.newSession ? SAVE_NEW_SESSION_TURN : SAVE_OWNED_TURN),
      values: [turn.sessionId, turn.owner, turn.userMessage, turn.reply, turn.requestId, turn.cached],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async ownedPage(
    sessionId: string,
    owner: string,
    page: { readonly limit: number; readonly before?: number },
  ): Promise<{ messages: StoredMessage[]; more: boolean } | null> {
    const result = await this.db.query<{
      seq: number | null;
      role: 'user' | 'assistant' | null;
      content: string | null;
      created_at: Date | null;
    }>({ ...OWNED_PAGE, values: [sessionId, owner, page.before ?? AFTER_LAST, page.limit + 1] });
    if (result.rows.length === 0) return null;
    const messages = result.rows
      .filter((r) => r.seq !== null && r.role !== null && r.content !== null && r.created_at !== null)
      .map((r) => ({
        seq: r.seq as number,
        role: r.role as 'user' | 'assistant',
        content: r.content as string,
        createdAt: r.created_at as Date,
      }));
    const more = messages.length > page.limit;
    return { messages: more ? messages.slice(1) : messages, more };
  }

  async owns(sessionId: string, owner: string): Promise<boolean> {
    return ((await this.db.query({ ...OWNS, values: [sessionId, owner] })).rowCount ?? 0) > 0;
  }

  async deleteOwned(sessionId: string, owner: string): Promise<boolean> {
    return ((await this.db.query({ ...DELETE_OWNED, values: [sessionId, owner] })).rowCount ?? 0) > 0;
  }
}
