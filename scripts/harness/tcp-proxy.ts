/**
 * A delaying TCP proxy on 127.0.0.1, for injecting regressions at run time without touching the
 * service: every chunk a client sends is held `delayMs` before it goes upstream (in order), so each
 * request/response round trip through it costs `delayMs` more. TLS passes through untouched (the
 * client still verifies the upstream's certificate), so Redis with TLS + AUTH and Postgres with
 * verify-full work through it unchanged.
 *
 * `setHold({share, ms})` holds a random share of chunks (≈ round trips) `ms` longer: a slow tail
 * with the median unchanged, as a dependency that now and then stalls gives.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Current delay per client→upstream chunk, in ms. */
  readonly delayMs: number;
  setDelay(ms: number): void;
  /** Holds each client→upstream chunk `ms` longer with probability `share` (0 turns it off). */
  setHold(hold: { share: number; ms: number }): void;
  close(): Promise<void>;
}

export async function startTcpProxy(options: {
  upstreamPort: number;
  upstreamHost?: string;
  delayMs?: number;
}): Promise<TcpProxy> {
  let delayMs = options.delayMs ?? 0;
  let hold = { share: 0, ms: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(options.upstreamPort, options.upstreamHost ?? '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Chunks leave in arrival order, each no earlier than `delayMs` after it arrived.
    let lastDue = 0;
    client.on('data', (chunk) => {
      const held = hold.share > 0 && Math.random() < hold.share ? hold.ms : 0;
      if (delayMs + held <= 0 && lastDue <= Date.now()) {
        upstream.write(chunk);
        return;
      }
      const due = Math.max(Date.now() + delayMs + held, lastDue);
      lastDue = due;
      setTimeout(() => {
        if (!upstream.destroyed) upstream.write(chunk);
      }, due - Date.now());
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
  });
  const port = await listenOnLoopback(server, 'tcp proxy');
  return {
    host: '127.0.0.1',
    port,
    get delayMs() {
      return delayMs;
    },
    setDelay(ms: number) {
      if (!(ms >= 0)) throw new Error(`delay must be >= 0 ms, got ${ms}`);
      delayMs = ms;
    },
    setHold(next: { share: number; ms: number }) {
      if (!(next.share >= 0 && next.share <= 1) || !(next.ms >= 0)) {
        throw new Error(`hold needs a share in [0, 1] and ms >= 0, got ${JSON.stringify(next)}`);
      }
      hold = { ...next };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Listens on a free loopback port (the harness never binds anything else) and returns it. */
export async function listenOnLoopback(server: Server, what: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error(`${what} did not bind`);
  return address.port;
}
