/**
 * A TLS-terminating Redis proxy that loses a share of cache writes or reads, for injecting "the
 * candidate's cache writes don't land" or "a share of its lookups miss" at run time without touching
 * the service. It speaks TLS to the client
 * (the harness certificate, so the service verifies it as it would verify Redis) and TLS to Redis,
 * and rewrites the keys of a chosen share of cache writes to `lost:<key>`: plain `SET`s, and the
 * response cache's write script (`REMEMBER_LUA`, sent as `EVALSHA` or `EVAL`). Redis still answers
 * in order, but the entry never appears where reads look. Lost reads rewrite the keys of the lookup
 * script (`LOOKUP_LUA`) the same way: the lookup finds nothing and answers a miss. Everything else
 * passes unchanged.
 *
 * Commands are RESP arrays of bulk strings (what every client library sends); anything the parser
 * does not recognise is passed through as is.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { LOOKUP_LUA, REMEMBER_LUA } from '../../service/src/cache/redis-cache';
import type { TestCertificates } from './certs';
import { listenOnLoopback } from './tcp-proxy';

export interface RedisWriteLossProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Share of cache writes whose keys are rewritten (0..1). */
  setLossRate(rate: number): void;
  /** Share of cache lookups whose keys are rewritten, so they miss (0..1). */
  setReadLossRate(rate: number): void;
  /** Cache writes and lookups seen and lost since start. */
  stats(): { sets: number; lost: number; reads: number; readsLost: number };
  close(): Promise<void>;
}

/** Splits complete RESP arrays off the front of `buffer`; returns them and the unparsed rest. */
export function takeCommands(buffer: Buffer): { commands: Buffer[][]; rest: Buffer; raw: Buffer[] } {
  const commands: Buffer[][] = [];
  const raw: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const start = offset;
    if (buffer[offset] !== 0x2a /* '*' */) break;
    const line = buffer.indexOf('\r\n', offset);
    if (line === -1) break;
    const count = Number(buffer.subarray(offset + 1, line).toString());
    let pos = line + 2;
    const parts: Buffer[] = [];
    let complete = Number.isInteger(count);
    for (let i = 0; i < count && complete; i++) {
      if (buffer[pos] !== 0x24 /* '$' */) {
        complete = false;
        break;
      }
      const lenEnd = buffer.indexOf('\r\n', pos);
      if (lenEnd === -1) {
        complete = false;
        break;
      }
      const len = Number(buffer.subarray(pos + 1, lenEnd).toString());
      if (buffer.length < lenEnd + 2 + len + 2) {
        complete = false;
        break;
      }
      parts.push(buffer.subarray(lenEnd + 2, lenEnd + 2 + len));
      pos = lenEnd + 2 + len + 2;
    }
    if (!complete) {
      offset = start;
      break;
    }
    commands.push(parts);
    raw.push(buffer.subarray(start, pos));
    offset = pos;
  }
  return { commands, rest: buffer.subarray(offset), raw };
}

const REMEMBER_SHA = createHash('sha1').update(REMEMBER_LUA).digest('hex');
const LOOKUP_SHA = createHash('sha1').update(LOOKUP_LUA).digest('hex');

/** Indexes of the KEYS of an `EVALSHA`/`EVAL` of `lua`; none for any other command. */
function scriptKeys(parts: readonly Buffer[], lua: string, sha: string): number[] {
  const name = parts[0]?.toString().toUpperCase();
  const script = parts[1]?.toString();
  const isScript = (name === 'EVALSHA' && script === sha) || (name === 'EVAL' && script === lua);
  if (!isScript) return [];
  const numKeys = Number(parts[2]?.toString());
  return Array.from({ length: Number.isInteger(numKeys) ? numKeys : 0 }, (_, i) => 3 + i);
}

/** Indexes of the keys a cache write names: `SET key …`, or the write script's KEYS; none for anything else. */
export function cacheWriteKeys(parts: readonly Buffer[]): number[] {
  if (parts[0]?.toString().toUpperCase() === 'SET' && parts.length >= 3) return [1];
  return scriptKeys(parts, REMEMBER_LUA, REMEMBER_SHA);
}

/** Indexes of the keys a cache lookup names (the lookup script's KEYS); none for anything else. */
export function cacheReadKeys(parts: readonly Buffer[]): number[] {
  return scriptKeys(parts, LOOKUP_LUA, LOOKUP_SHA);
}

export function encodeCommand(parts: readonly Buffer[]): Buffer {
  const chunks: Buffer[] = [Buffer.from(`*${parts.length}\r\n`)];
  for (const p of parts) chunks.push(Buffer.from(`$${p.length}\r\n`), p, Buffer.from('\r\n'));
  return Buffer.concat(chunks);
}

export async function startRedisWriteLossProxy(options: {
  readonly certs: TestCertificates;
  readonly upstreamPort: number;
  readonly random?: () => number;
}): Promise<RedisWriteLossProxy> {
  let lossRate = 0;
  let readLossRate = 0;
  let sets = 0;
  let lost = 0;
  let reads = 0;
  let readsLost = 0;
  const random = options.random ?? Math.random;
  const ca = readFileSync(options.certs.caCertPath);
  const sockets = new Set<Socket | TLSSocket>();
  const server = createServer(
    { cert: readFileSync(options.certs.certPath), key: readFileSync(options.certs.keyPath) },
    (client) => {
      const upstream = tlsConnect({ host: '127.0.0.1', port: options.upstreamPort, ca, servername: 'localhost' });
      sockets.add(client);
      sockets.add(upstream);
      let pending: Buffer = Buffer.alloc(0);
      client.on('data', (chunk: Buffer) => {
        // Anything that is not a RESP array (never sent by the service) passes through untouched.
        if (pending.length === 0 && chunk[0] !== 0x2a) {
          upstream.write(chunk);
          return;
        }
        const { commands, rest } = takeCommands(Buffer.concat([pending, chunk]));
        pending = Buffer.from(rest);
        const out: Buffer[] = [];
        const lose = (parts: readonly Buffer[], keys: readonly number[]) =>
          encodeCommand(parts.map((p, i) => (keys.includes(i) ? Buffer.concat([Buffer.from('lost:'), p]) : p)));
        for (const parts of commands) {
          const writeKeys = cacheWriteKeys(parts);
          if (writeKeys.length > 0) {
            sets++;
            if (random() < lossRate) {
              lost++;
              out.push(lose(parts, writeKeys));
              continue;
            }
          }
          const readKeys = cacheReadKeys(parts);
          if (readKeys.length > 0) {
            reads++;
            if (random() < readLossRate) {
              readsLost++;
              out.push(lose(parts, readKeys));
              continue;
            }
          }
          out.push(encodeCommand(parts));
        }
        if (out.length > 0) upstream.write(Buffer.concat(out));
      });
      upstream.on('data', (chunk) => client.write(chunk));
      const closeBoth = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      for (const s of [client, upstream]) {
        s.on('close', closeBoth);
        s.on('error', closeBoth);
      }
    },
  );
  const port = await listenOnLoopback(server, 'redis proxy');
  return {
    host: '127.0.0.1',
    port,
    setLossRate(rate) {
      if (!(rate >= 0 && rate <= 1)) throw new Error(`loss rate must be in [0, 1], got ${rate}`);
      lossRate = rate;
    },
    setReadLossRate(rate) {
      if (!(rate >= 0 && rate <= 1)) throw new Error(`read loss rate must be in [0, 1], got ${rate}`);
      readLossRate = rate;
    },
    stats: () => ({ sets, lost, reads, readsLost }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
