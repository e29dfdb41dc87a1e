/**
 * Sessions and messages. Both messages of a turn are written by one statement (so one round trip
 * and one commit): a 200 means the user's message and the answer are both durable.
 *
 * Sessions are owned: the server issues their ids, and every read or write of an existing session
 * names its owner (`owner_sub`, the token's `sub`) in the same statement, so a session another
 * principal started is never read, extended or even confirmed to exist.
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

export class PgChatStore implements ChatStore {
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
}
