/**
 * Which response-cache entries each conversation wrote, so that deleting the conversation deletes
 * them (`DELETE /api/v1/sessions/{id}`).
 *
 * A follow-up's cache key hashes the conversation context, so an entry written for one conversation
 * answers any other conversation whose context is identical: without this, a deleted conversation's
 * follow-ups could be replayed (and confirmed, one guess at a time) for the entry's whole TTL. The
 * index records the key strings the chat service actually wrote, whatever they hash, so it does not
 * depend on how keys are derived.
 *
 * Per session, two keys next to the entries (this is one Redis without cluster mode, see
 * lib/constructs/cache-cluster.ts, so a script may touch the entries it reads from the set):
 * - `session:keys:<id>`, a set of the entry keys the session's turns wrote, expiring with the
 *   longest-lived of them;
 * - `session:gone:<id>`, a tombstone written by the deletion, living {@link TOMBSTONE_SECONDS}.
 *
 * Both operations are one Lua script each, so they are atomic against each other: a turn still in
 * flight when its conversation is deleted either bound its entry before (the deletion deletes it)
 * or binds it after (the tombstone makes the binding delete it at once). Only entries the session
 * wrote are bound: an entry another conversation wrote and this one only read stays, as it belongs
 * to that conversation, and so no caller can evict entries others depend on.
 */
import type { Redis } from 'ioredis';

/** Longer than any turn can be in flight (LLM_TIMEOUT_MS is at most 10 minutes, at most 3 calls). */
export const TOMBSTONE_SECONDS = 24 * 60 * 60;

/** Key prefixes in the cache (the response cache's own start with `chat:`, the quotas' with `quota:`). */
export const SESSION_INDEX_PREFIX = { keys: 'session:keys:', gone: 'session:gone:' } as const;

/** KEYS: set, tombstone, the entries. ARGV: their TTL in seconds. Returns 1 bound, 0 deleted (tombstoned). */
const BIND_LUA = `
local entries = {unpack(KEYS, 3)}
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DEL', unpack(entries))
  return 0
end
redis.call('SADD', KEYS[1], unpack(entries))
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return 1
`;

/** KEYS: set, tombstone. ARGV: the tombstone's life in seconds. Returns how many entries were deleted. */
const FORGET_LUA = `
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
local keys = redis.call('SMEMBERS', KEYS[1])
local deleted = 0
for i = 1, #keys, 500 do
  deleted = deleted + redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return deleted
`;

/**
 * Defines the index's commands on a client. The cache calls it for every client it makes
 * (`RedisCacheHooks.prepare`), never later: see there for why.
 */
export function defineSessionIndexCommands(client: Redis): void {
  // The number of keys is the first argument of each call: 2 + the entries.
  client.defineCommand('sessionBind', { lua: BIND_LUA });
  client.defineCommand('sessionForget', { numberOfKeys: 2, lua: FORGET_LUA });
}

type IndexRedis = Redis & {
  sessionBind(
    numberOfKeys: number,
    set: string,
    tombstone: string,
    ...entriesThenTtl: (string | number)[]
  ): Promise<number>;
  sessionForget(set: string, tombstone: string, tombstoneSeconds: number): Promise<number>;
};

export interface SessionCacheIndex {
  /** Records that the session's turn wrote `keys`; deletes them instead when the session was deleted. */
  bind(sessionId: string, keys: readonly string[], ttlSeconds: number): Promise<void>;
  /** Deletes every entry the session wrote and refuses later bindings; returns how many entries were deleted. */
  forget(sessionId: string): Promise<number>;
}

/** The index on the response cache's current connection (`client()` follows a token rotation). */
export function redisSessionIndex(client: () => Redis): SessionCacheIndex {
  const redis = (): IndexRedis => {
    const c = client() as IndexRedis;
    if (typeof c.sessionBind !== 'function' || typeof c.sessionForget !== 'function') {
      throw new Error(
        'the cache client lacks the session index commands (defineSessionIndexCommands was not given to the cache)',
      );
    }
    return c;
  };
  const keys = (sessionId: string) =>
    [`${SESSION_INDEX_PREFIX.keys}${sessionId}`, `${SESSION_INDEX_PREFIX.gone}${sessionId}`] as const;
  return {
    bind: async (sessionId, entries, ttlSeconds) => {
      if (entries.length === 0) return;
      const [set, gone] = keys(sessionId);
      await redis().sessionBind(2 + entries.length, set, gone, ...entries, ttlSeconds);
    },
    forget: async (sessionId) => {
      const [set, gone] = keys(sessionId);
      return redis().sessionForget(set, gone, TOMBSTONE_SECONDS);
    },
  };
}
