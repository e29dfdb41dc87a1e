/**
 * A small `fetch` for the openai SDK on top of `node:http(s)` with keep-alive agents.
 *
 * Why: the SDK's default (undici's WHATWG fetch) spends about 0.2 ms more per call (measured in
 * process against the fake LLM: 0.93 → 0.71 ms) than a plain keep-alive `http.request`, and every
 * cache miss pays it. JSON answers are buffered and handed over whole; server-sent events are
 * streamed. Aborts reject with an `AbortError`, which the SDK maps to its timeout / user-abort
 * errors exactly as with the built-in fetch.
 *
 * Not supported, on purpose: request bodies other than strings/bytes (the SDK sends JSON strings),
 * HTTP proxies (the tasks reach the provider through the NAT), response compression (no
 * Accept-Encoding is sent, so providers answer uncompressed).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

type FetchInput = string | URL | Request;

function abortError(): Error {
  const err = new Error('The operation was aborted.');
  err.name = 'AbortError';
  return err;
}

function toHeaders(res: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  return headers;
}

export function createNodeFetch(options: { maxSockets?: number } = {}) {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 256, scheduling: 'lifo' as const };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);

  const fetchImpl = (input: FetchInput, init: RequestInit = {}): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      const secure = url.protocol === 'https:';
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(abortError());
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, key) => {
        headers[key] = value;
      });
      const body = init.body;
      if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
        reject(new TypeError('node-fetch shim: only string or byte bodies are supported'));
        return;
      }
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        { method: init.method ?? 'GET', headers, agent: secure ? https : http },
        (res) => {
          const status = res.statusCode ?? 0;
          const responseHeaders = toHeaders(res);
          const streaming = (res.headers['content-type'] ?? '').includes('text/event-stream');
          if (streaming) {
            resolve(
              new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, {
                status,
                statusText: res.statusMessage ?? '',
                headers: responseHeaders,
              }),
            );
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const noBody = status === 204 || status === 304 || (init.method ?? 'GET') === 'HEAD';
            resolve(
              new Response(noBody ? null : Buffer.concat(chunks), {
                status,
                statusText: res.statusMessage ?? '',
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      const onAbort = () => {
        req.destroy(abortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(signal?.aborted ? abortError() : err);
      });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.end(body ?? undefined);
    });

  return {
    fetch: fetchImpl,
    close: () => {
      http.destroy();
      https.destroy();
    },
  };
}
