/**
 * An HTTP proxy on 127.0.0.1 for injecting regressions at run time without touching the service or
 * its flags. It forwards every request to one upstream and, when asked:
 *
 * - `setBuffering(true)`: holds each response until it is complete, then sends status, headers and
 *   body at once, as a buffering compression or logging layer does. Every byte still arrives, but a
 *   streamed answer's first token now comes with its last one. (Passing through, the head leaves with
 *   the first body chunk, so the first byte stays the first token.)
 * - `setPromptPadding(chars)`: in front of an LLM, enlarges the system prompt of every chat-completions
 *   request by `chars` characters, as a system prompt that grew would: the same answers, more input
 *   tokens.
 * - `setFailShare(share)`: answers that share of POSTs (the chat routes) itself with a 503 and the
 *   contract's error body, without forwarding them, as a candidate that fails some of its requests
 *   would. Reads (readiness, version) always pass, so only the chat traffic sees the errors.
 *
 * Both targets of a pair go through one, so an idle proxy costs both the same.
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { listenOnLoopback } from './tcp-proxy';

export interface HttpInjectProxy {
  readonly url: string;
  readonly port: number;
  setBuffering(on: boolean): void;
  setPromptPadding(chars: number): void;
  setFailShare(share: number): void;
  /** POSTs seen and answered 503 by the proxy since start. */
  stats(): { posts: number; failed: number };
  close(): Promise<void>;
}

/** The text added to a padded system prompt: plain sentences, about 4 characters per token. */
const PADDING_SENTENCE = 'Answer carefully, politely and briefly, and say so when you are not sure. ';

export function padSystemPrompt(body: Buffer, chars: number): Buffer {
  if (chars <= 0) return body;
  let parsed: { messages?: Array<{ role?: unknown; content?: unknown }> };
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  if (!Array.isArray(parsed.messages)) return body;
  const padding = PADDING_SENTENCE.repeat(Math.ceil(chars / PADDING_SENTENCE.length)).slice(0, chars);
  const system = parsed.messages.find((m) => m.role === 'system' && typeof m.content === 'string');
  if (system) system.content = `${system.content as string}\n${padding}`;
  else parsed.messages.unshift({ role: 'system', content: padding });
  return Buffer.from(JSON.stringify(parsed), 'utf8');
}

export async function startHttpInjectProxy(options: {
  upstreamPort: number;
  random?: () => number;
}): Promise<HttpInjectProxy> {
  let buffering = false;
  let paddingChars = 0;
  let failShare = 0;
  let posts = 0;
  let failed = 0;
  const random = options.random ?? Math.random;
  const agent = new Agent({ keepAlive: true });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') {
        posts++;
        if (random() < failShare) {
          failed++;
          const body = JSON.stringify({ error: { code: 'injected_failure', message: 'failed by the inject proxy' } });
          res.writeHead(503, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
          res.end(body);
          return;
        }
      }
      const raw = Buffer.concat(chunks);
      const body = req.method === 'POST' && paddingChars > 0 ? padSystemPrompt(raw, paddingChars) : raw;
      const headers: IncomingHttpHeaders = { ...req.headers, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      const upstream = httpRequest(
        { host: '127.0.0.1', port: options.upstreamPort, method: req.method, path: req.url, headers, agent },
        (up) => {
          const head = () => {
            const h = { ...up.headers };
            delete h.connection;
            delete h['keep-alive'];
            return h;
          };
          if (buffering) {
            const parts: Buffer[] = [];
            up.on('data', (c: Buffer) => parts.push(c));
            up.on('end', () => {
              const all = Buffer.concat(parts);
              const h = head();
              delete h['transfer-encoding'];
              res.writeHead(up.statusCode ?? 502, { ...h, 'content-length': String(all.length) });
              res.end(all);
            });
            return;
          }
          let headed = false;
          up.on('data', (c: Buffer) => {
            if (!headed) {
              headed = true;
              res.writeHead(up.statusCode ?? 502, head());
            }
            res.write(c);
          });
          up.on('end', () => {
            if (!headed) res.writeHead(up.statusCode ?? 502, head());
            res.end();
          });
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      upstream.end(body);
    });
  });
  const port = await listenOnLoopback(server, 'http inject proxy');
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    setBuffering(on: boolean) {
      buffering = on;
    },
    setPromptPadding(chars: number) {
      if (!(chars >= 0)) throw new Error(`padding must be >= 0 characters, got ${chars}`);
      paddingChars = chars;
    },
    setFailShare(share: number) {
      if (!(share >= 0 && share <= 1)) throw new Error(`fail share must be in [0, 1], got ${share}`);
      failShare = share;
    },
    stats: () => ({ posts, failed }),
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
