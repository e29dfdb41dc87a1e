/**
 * The response cache on Redis/Valkey: TLS with hostname verification (Node's default
 * `checkServerIdentity`, CA from Node's store plus `NODE_EXTRA_CA_CERTS`) and AUTH with a token
 * (`password` only: the ElastiCache AUTH-token model on the default user).
 *
 * Failure policy, so the cache can never silently switch itself off:
 * - outage (connection refused, reset, timeout): ioredis reconnects with capped backoff; commands
 *   fail fast (no offline queue), the request is answered without the cache (`BYPASS`) and readiness
 *   says `degraded`;
 * - WRONGPASS / NOAUTH: a configuration error. The connection is closed and not retried by ioredis;
 *   the dependency monitor decides when (and how often, bounded) to try again, re-reading the token
 *   from Secrets Manager when an ARN is configured.
 */
import { connect, isIP } from 'node:net';
import { Redis } from 'ioredis';
import { CACHE_CLIENT } from '../../../lib/contract/time-budgets';
import type { CacheSettings } from '../config';
import { isTlsConfigErrorCode } from '../tls-errors';

export type CacheFailureKind = 'down' | 'auth_failed' | 'misconfigured' | 'other';

/** Who may read an entry, and for how long it lives. */
export interface SharePolicy {
  /** CACHE_SHARE_AFTER_PRINCIPALS: distinct askers of a key before its answer is served across principals. */
  readonly shareAfterPrincipals: number;
  /** CACHE_TTL_SECONDS: the life of an answer, and of a key's count of askers after its last ask. */
  readonly ttlSeconds: number;
}

/**
 * The response cache. An answer computed for one principal is served to another only once
 * `shareAfterPrincipals` distinct principals (the asking one included) asked the same key; until
 * then each asker reads only the answer computed for them. Askers are named by an opaque tag
 * (`askerTag`), never by `sub`.
 */
export interface ResponseCache {
  /** The answer `asker` may be served for `key` (their own, or the shared one), or null; counts `asker`. */
  lookup(key: string, asker: string, policy: SharePolicy): Promise<string | null>;
  /**
   * Stores the answer computed for `asker`; the first one stored for a key is the one that may be
   * shared. Returns the entry keys this call wrote (the shared one only when it was the first), so
   * a conversation's deletion can delete exactly what its turns wrote (session-index.ts).
   */
  remember(key: string, asker: string, answer: string, policy: SharePolicy): Promise<readonly string[]>;
}

/**
 * The entries of one key: the shared answer at the key itself, an asker's own answer at
 * `<key>:by:<tag>`, and the tags of the askers so far at `<key>:askers` (a set, capped at the
 * threshold: only "at least N" matters). Cluster mode is off (one shard), so the three keys of a
 * script need no hash tag.
 *
 * LOOKUP: the asker's own answer if any; else counts the asker, and returns the shared answer once
 * the count reaches ARGV[2]. The count lives CACHE_TTL_SECONDS after the last ask.
 */
export const LOOKUP_LUA = `
local own = redis.call('GET', KEYS[2])
if own then return own end
local n = tonumber(ARGV[2])
if n <= 1 then return redis.call('GET', KEYS[1]) end
local count = redis.call('SCARD', KEYS[3])
if count < n then count = count + redis.call('SADD', KEYS[3], ARGV[1]) end
redis.call('EXPIRE', KEYS[3], ARGV[3])
if count >= n then return redis.call('GET', KEYS[1]) end
return false
`;

/**
 * REMEMBER: the first answer becomes the shared one (NX); the asker's own copy is kept only while
 * the key is not shared yet (with a threshold of 1 every read is shared, and no copy is needed).
 * Returns what it wrote: 1 the shared answer, 2 the asker's copy, 3 both.
 */
export const REMEMBER_LUA = `
local written = 0
if redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then written = 1 end
local n = tonumber(ARGV[3])
if n > 1 and redis.call('SCARD', KEYS[3]) < n then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
  written = written + 2
end
return written
`;

type SharingRedis = Redis & {
  cacheLookup(shared: string, own: string, askers: string, tag: string, n: number, ttl: number): Promise<string | null>;
  cacheRemember(shared: string, own: string, askers: string, answer: string, ttl: number, n: number): Promise<number>;
};

const entryKeys = (key: string, asker: string) => [key, `${key}:by:${asker}`, `${key}:askers`] as const;

export interface RedisCacheHooks {
  /** A connection was lost or could not be made (not an auth problem). */
  readonly onConnectionError?: (err: Error) => void;
  /** WRONGPASS/NOAUTH or a certificate problem: the client stops reconnecting on its own. */
  readonly onConfigError?: (err: Error) => void;
  /**
   * Called with each client the cache makes, before it is handed out: where Lua commands are defined
   * (`defineCommand`). Defining one later is unsafe with auto-pipelining: a pipeline built in the same
   * tick lacks the command, ioredis calls back with fewer results than commands and throws outside
   * any promise, and the process exits (`TypeError: results[i] is not iterable`, ioredis issue
   * #1931). A token rotation makes a new client under load, which is where this was seen.
   * @default nothing is prepared
   */
  readonly prepare?: (client: Redis) => void;
}

export function isCacheAuthError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return /^(WRONGPASS|NOAUTH)\b/.test(message) || message.includes('invalid password');
}

/** Set on the error when REDIS_TLS=true but the server speaks plain TCP. */
export const CACHE_TLS_NOT_OFFERED = 'CACHE_TLS_NOT_OFFERED';

/** A TLS client that got a plain-text answer: OpenSSL sees garbage where a TLS record should be. */
const PLAINTEXT_REPLY = /wrong version number|packet length too long/i;

export function classifyCacheError(err: unknown): CacheFailureKind {
  if (isCacheAuthError(err)) return 'auth_failed';
  const code = (err as { code?: unknown })?.code;
  if (isTlsConfigErrorCode(code) || code === CACHE_TLS_NOT_OFFERED) return 'misconfigured';
  const message = err instanceof Error ? err.message : '';
  // A plain-TCP client talking to a TLS port (or the reverse) looks like a reset or garbage.
  if (PLAINTEXT_REPLY.test(message)) return 'misconfigured';
  return 'down';
}

function tlsNotOffered(host: string, port: number): Error {
  return Object.assign(
    new Error(
      `REDIS_TLS=true but the cache at REDIS_HOST:REDIS_PORT (${host}:${port}) answers in plain text, without TLS; ` +
        'enable in-transit encryption on the server, or point REDIS_PORT at its TLS port',
    ),
    { code: CACHE_TLS_NOT_OFFERED },
  );
}

/**
 * Does the server at host:port answer a plain-text `PING` in RESP (`+PONG`, `-NOAUTH ...`)? Asked only
 * after a TLS connection failed without a TLS error (a handshake that timed out or was cut), to tell
 * "the server does not speak TLS" from "the server is down". Sends no credentials.
 */
export function answersPlainResp(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let settled = false;
    const done = (answer: boolean) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk: Buffer) => done(chunk[0] === 0x2b || chunk[0] === 0x2d)); // '+' or '-'
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** A time-boxed answer: ioredis' own `commandTimeout` also guards every command. */
const COMMAND_TIMEOUT_MS = CACHE_CLIENT.commandTimeoutMs;
const CONNECT_TIMEOUT_MS = CACHE_CLIENT.connectTimeoutMs;

export class RedisCache implements ResponseCache {
  private client: Redis;
  private token: string;
  /** A token being proven on a new connection (see installToken). */
  private pendingToken: string | undefined;
  /** Set on WRONGPASS/NOAUTH or a certificate error, so the client never reconnects by itself. */
  private blocked = false;
  private lastConnectError: Error | undefined;

  constructor(
    private readonly settings: CacheSettings,
    private readonly hooks: RedisCacheHooks = {},
  ) {
    this.token = settings.authToken;
    this.client = this.makeClient(this.token);
  }

  get currentToken(): string {
    return this.token;
  }

  /** The client, for the bench's floor route (same connection, same TLS and AUTH). */
  get raw(): Redis {
    return this.client;
  }

  async get(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  async lookup(key: string, asker: string, policy: SharePolicy): Promise<string | null> {
    const [shared, own, askers] = entryKeys(key, asker);
    return (this.client as SharingRedis).cacheLookup(
      shared,
      own,
      askers,
      asker,
      policy.shareAfterPrincipals,
      policy.ttlSeconds,
    );
  }

  async remember(key: string, asker: string, answer: string, policy: SharePolicy): Promise<readonly string[]> {
    const [shared, own, askers] = entryKeys(key, asker);
    const written = await (this.client as SharingRedis).cacheRemember(
      shared,
      own,
      askers,
      answer,
      policy.ttlSeconds,
      policy.shareAfterPrincipals,
    );
    return [...(written & 1 ? [shared] : []), ...(written & 2 ? [own] : [])];
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.client.set(key, value, 'EX', ttlSeconds);
  }

  /**
   * Proves the cache: connects if needed (TLS handshake, AUTH) and sends an authenticated PING.
   * Rejects with the real cause (WRONGPASS, certificate error, ECONNREFUSED...).
   */
  async ping(): Promise<void> {
    try {
      if (this.client.status === 'end' || this.client.status === 'wait') {
        this.blocked = false;
        this.lastConnectError = undefined;
        if (this.client.status === 'end') this.client = this.makeClient(this.token);
        try {
          await this.client.connect();
        } catch (err) {
          throw this.lastConnectError ?? err;
        }
      }
      if (this.client.status !== 'ready') {
        throw this.lastConnectError ?? new Error(`cache connection is ${this.client.status}`);
      }
      const pong = await this.client.ping();
      if (pong !== 'PONG') throw new Error('cache answered PING unexpectedly');
    } catch (err) {
      throw await this.explain(err);
    }
  }

  /**
   * A TLS handshake against a plain-TCP server mostly times out (the server waits for a line that
   * never comes) and sometimes ends in "wrong version number": both become one clear
   * `CACHE_TLS_NOT_OFFERED` error, and the client stops reconnecting (a configuration error).
   */
  private async explain(err: unknown): Promise<unknown> {
    if (!this.settings.tls || (err as { code?: unknown })?.code === CACHE_TLS_NOT_OFFERED) return err;
    const code = (err as { code?: unknown })?.code;
    const message = err instanceof Error ? err.message : '';
    const plaintext = PLAINTEXT_REPLY.test(message);
    const cut = code === 'ETIMEDOUT' || code === 'ECONNRESET' || /Connection is closed/i.test(message);
    if (!plaintext && !(cut && (await answersPlainResp(this.settings.host, this.settings.port)))) return err;
    const mismatch = tlsNotOffered(this.settings.host, this.settings.port);
    this.blocked = true;
    this.lastConnectError = mismatch;
    this.client.disconnect();
    return mismatch;
  }

  /**
   * Installs a new AUTH token; resolves false when it is unchanged.
   *
   * When the current connection works (the proactive re-read after a rotation, while ElastiCache's
   * ROTATE strategy accepts both tokens), the new connection is opened and authenticated first and
   * only then takes over, so no command meets a half-open client and the cache never looks down;
   * if the new token is refused, the working connection stays and the error is thrown (the next
   * round tries again). Otherwise (the token was just rejected), the next `ping()` connects with it.
   */
  async installToken(token: string): Promise<boolean> {
    if (token === this.token || token === this.pendingToken) return false;
    const old = this.client;
    if (old.status !== 'ready') {
      this.token = token;
      this.client = this.makeClient(token);
      void release(old);
      return true;
    }
    this.pendingToken = token;
    const next = this.makeClient(token);
    // The real cause (WRONGPASS...) arrives as an 'error' event; connect() only says "closed".
    let cause: Error | undefined;
    next.once('error', (err: Error) => {
      cause ??= err;
    });
    try {
      await next.connect();
    } catch (err) {
      next.disconnect();
      throw cause ?? err;
    } finally {
      this.pendingToken = undefined;
    }
    this.token = token;
    this.client = next;
    this.lastConnectError = undefined;
    void release(old);
    return true;
  }

  async close(): Promise<void> {
    await release(this.client);
  }

  private makeClient(token: string): Redis {
    const { host, port, tls } = this.settings;
    const client: Redis = new Redis({
      host,
      port,
      password: token,
      // Hostname verification is Node's default for tls.connect; servername adds SNI for DNS names.
      ...(tls ? { tls: isIP(host) === 0 ? { servername: host } : {} } : {}),
      lazyConnect: true,
      // Fail fast instead of queueing while disconnected: the request goes on without the cache.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      // Commands issued in the same tick share one write: cheaper under concurrency.
      enableAutoPipelining: true,
      disableClientInfo: true,
      // Outages reconnect forever with capped backoff; an auth failure never reconnects by itself.
      retryStrategy: (times) => (this.blocked ? null : Math.min(100 * 2 ** Math.min(times, 6), 5_000)),
      reconnectOnError: () => false,
    });
    // Lua commands are defined before anyone can use the client (see RedisCacheHooks.prepare).
    client.defineCommand('cacheLookup', { numberOfKeys: 3, lua: LOOKUP_LUA });
    client.defineCommand('cacheRemember', { numberOfKeys: 3, lua: REMEMBER_LUA });
    this.hooks.prepare?.(client);
    // Until this client has been ready once, connection failures are left to ping() (the monitor's
    // probe): it can tell a down server from one that does not speak TLS, and reports either once.
    let everReady = false;
    client.on('error', (err: Error) => {
      if (client !== this.client) return;
      const kind = classifyCacheError(err);
      const reported = PLAINTEXT_REPLY.test(err.message) ? tlsNotOffered(this.settings.host, this.settings.port) : err;
      this.lastConnectError = reported;
      if (kind === 'auth_failed' || kind === 'misconfigured') {
        this.blocked = true;
        client.disconnect();
        this.hooks.onConfigError?.(reported);
      } else if (everReady) {
        this.hooks.onConnectionError?.(err);
      }
    });
    client.on('close', () => {
      if (client !== this.client || this.blocked || !everReady) return;
      this.hooks.onConnectionError?.(this.lastConnectError ?? new Error('cache connection closed'));
    });
    client.on('ready', () => {
      // A connection proven before it takes over (installToken) has been ready too.
      everReady = true;
      if (client === this.client) this.lastConnectError = undefined;
    });
    return client;
  }
}

/**
 * QUIT a working connection (the replies to commands already sent arrive first); drop one that
 * doesn't work. Auto-pipelined commands are written on a later tick (ioredis' autoPipelining.js
 * defers them with setImmediate, and behind a pipeline still running), so QUIT waits until none is
 * queued: otherwise it overtakes them and they fail with "Connection is closed" (seen in
 * test/service/redis-cache.integration.test.ts under CPU load). The wait is bounded (1 s).
 */
async function release(client: Redis): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  for (let i = 0; i < 100 && client.autoPipelineQueueSize > 0; i++) await new Promise((r) => setTimeout(r, 10));
  await client.quit().catch(() => client.disconnect());
}
