/**
 * Sessions and messages. Both messages of a turn are written by one statement (so one round trip
 * and one commit): a 200 means the user's message and the answer are both durable.
 */
import type { ContextTurn } from '../chat/cache-key';
import type { Database } from './database';
import { SCHEMA } from './migrations';

export interface TurnRecord {
  readonly sessionId: string;
  readonly userId: string | undefined;
  readonly requestId: string;
  readonly userMessage: string;
  readonly reply: string;
  readonly cached: boolean;
}

export interface ChatStore {
  /** The last `turns` exchanges of a session, oldest first; empty for a new session. */
  recentContext(sessionId: string, turns: number): Promise<ContextTurn[]>;
  saveTurn(turn: TurnRecord): Promise<void>;
}

// Named statements are parsed and planned once per connection, then only executed.
const SAVE_TURN = {
  name: 'chat-save-turn',
  text: `
    WITH s AS (
      INSERT INTO ${SCHEMA}.sessions (id, user_id) VALUES ($1, $2)
      ON CONFLICT (id) DO UPDATE SET updated_at = now()
      RETURNING id
    )
    INSERT INTO ${SCHEMA}.messages (session_id, role, content, request_id, cached)
    SELECT s.id, m.role, m.content, $5, $6
    FROM s, (VALUES (1, 'user', $3::text), (2, 'assistant', $4::text)) AS m(ord, role, content)
    ORDER BY m.ord`,
};

const RECENT = {
  name: 'chat-recent-context',
  text: `
    SELECT role, content FROM ${SCHEMA}.messages
    WHERE session_id = $1
    ORDER BY id DESC
    LIMIT $2`,
};

export class PgChatStore implements ChatStore {
  constructor(private readonly db: Database) {}

  async recentContext(sessionId: string, turns: number): Promise<ContextTurn[]> {
    const result = await this.db.query<{ role: 'user' | 'assistant'; content: string }>({
      ...RECENT,
      values: [sessionId, turns * 2],
    });
    return result.rows.reverse().map((r) => ({ role: r.role, content: r.content }));
  }

  async saveTurn(turn: TurnRecord): Promise<void> {
    await this.db.query({
      ...SAVE_TURN,
      values: [turn.sessionId, turn.userId ?? null, turn.userMessage, turn.reply, turn.requestId, turn.cached],
    });
  }
}
