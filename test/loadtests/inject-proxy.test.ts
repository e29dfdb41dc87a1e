/**
 * The calibration's run-time injections, each against a real upstream on 127.0.0.1: the HTTP proxy
 * passes a stream through with its first byte as early as the upstream's, holds it to the end when
 * buffering, and enlarges the system prompt of LLM calls; the TCP proxy holds a share of chunks.
 */
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { padSystemPrompt, startHttpInjectProxy } from '../../scripts/harness/http-inject-proxy';
import { listenOnLoopback, startTcpProxy } from '../../scripts/harness/tcp-proxy';

let upstream: Server;
let port: number;
let lastBody = '';

beforeAll(async () => {
  // A stream: its first event at once, the last one 300 ms later.
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      lastBody = Buffer.concat(chunks).toString('utf8');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: token\ndata: {"delta":"a"}\n\n');
      setTimeout(() => res.end('event: done\ndata: {}\n\n'), 300);
    });
  });
  port = await listenOnLoopback(upstream, 'upstream');
});
afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

/** ms from sending to the first body byte, and the whole body. */
function timed(url: string, body = '{}'): Promise<{ firstMs: number; text: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let firstMs = -1;
      let text = '';
      res.on('data', (c: Buffer) => {
        if (firstMs < 0) firstMs = performance.now() - started;
        text += c.toString('utf8');
      });
      res.on('end', () => resolve({ firstMs, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('passing through, the first byte is as early as upstream; buffering, it comes with the last', async () => {
  const proxy = await startHttpInjectProxy({ upstreamPort: port });
  try {
    const through = await timed(proxy.url);
    expect(through.firstMs).toBeLessThan(250);
    expect(through.text).toContain('event: done');
    proxy.setBuffering(true);
    const buffered = await timed(proxy.url);
    expect(buffered.firstMs).toBeGreaterThanOrEqual(280);
    expect(buffered.text).toBe(through.text);
  } finally {
    await proxy.close();
  }
});

test('a fail share answers that share of POSTs 503 itself, never forwarding them; reads always pass', async () => {
  let draws = 0;
  // Deterministic draws: every other POST fails at a share of 0.5.
  const proxy = await startHttpInjectProxy({ upstreamPort: port, random: () => (draws++ % 2 === 0 ? 0.25 : 0.75) });
  try {
    proxy.setFailShare(0.5);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        await new Promise<number>((resolve, reject) => {
          const req = request(proxy.url, { method: 'POST' }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end('{}');
        }),
      );
    }
    expect(statuses).toEqual([503, 200, 503, 200]);
    expect(proxy.stats()).toEqual({ posts: 4, failed: 2 });
    const read = await new Promise<number>((resolve, reject) => {
      const req = request(proxy.url, { method: 'GET' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(read).toBe(200);
    expect(() => proxy.setFailShare(1.5)).toThrow(/fail share/);
  } finally {
    await proxy.close();
  }
});

test('prompt padding enlarges the system message of an LLM call by that many characters', async () => {
  const proxy = await startHttpInjectProxy({ upstreamPort: port });
  try {
    proxy.setPromptPadding(2000);
    const body = JSON.stringify({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    });
    await timed(proxy.url, body);
    const sent = JSON.parse(lastBody) as { messages: Array<{ role: string; content: string }> };
    expect(sent.messages[0]?.content.length).toBe('Be brief.'.length + 1 + 2000);
    expect(sent.messages[1]).toEqual({ role: 'user', content: 'hi' });
  } finally {
    await proxy.close();
  }
  expect(padSystemPrompt(Buffer.from('not json'), 10).toString()).toBe('not json');
});

test('the TCP proxy holds about the share of chunks it is told to, by the time it is told', async () => {
  const tcp = createTcpServer((s) => s.pipe(s));
  const tcpPort = await listenOnLoopback(tcp, 'tcp echo');
  const proxy = await startTcpProxy({ upstreamPort: tcpPort });
  proxy.setHold({ share: 0.5, ms: 100 });
  const socket = connect(proxy.port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t = performance.now();
    socket.write('x');
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    times.push(performance.now() - t);
  }
  socket.destroy();
  await proxy.close();
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
  const held = times.filter((t) => t >= 95).length;
  // Binomial(40, 0.5): 8..32 covers it with probability > 0.9999.
  expect(held).toBeGreaterThanOrEqual(8);
  expect(held).toBeLessThanOrEqual(32);
  expect(() => proxy.setHold({ share: 2, ms: 1 })).toThrow(/share in \[0, 1\]/);
});
