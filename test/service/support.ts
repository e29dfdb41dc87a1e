/**
 * Helpers for the service tests: an HTTP client with explicit keep-alive control (the drain test
 * needs to know which connection a request travels on) and log capture.
 */
import { type Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { LogLine } from '../../scripts/harness';

export interface HttpResult {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface HttpOptions {
  readonly method?: string;
  readonly body?: unknown;
  /** Sent as-is when a string; JSON-encoded otherwise. */
  readonly headers?: Record<string, string>;
  readonly agent?: Agent | false;
  readonly timeoutMs?: number;
}

export function http(url: string, options: HttpOptions = {}): Promise<HttpResult> {
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = {
    ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, agent: options.agent ?? false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: <T>() => JSON.parse(text) as T,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export const postJson = (url: string, body: unknown, options: Omit<HttpOptions, 'body'> = {}) =>
  http(url, { ...options, method: 'POST', body });

/** A text that appears nowhere else, to prove a message never reaches the logs. */
export const uniqueText = (label: string) => `${label}-${Math.random().toString(36).slice(2)}-${Date.now()}`;

/** Lines written by a logger or the metrics recorder, parsed. */
export class LineSink {
  readonly lines: string[] = [];
  readonly write = (line: string): void => {
    this.lines.push(line);
  };
  parsed(): LogLine[] {
    return this.lines.map((l) => JSON.parse(l) as LogLine);
  }
}

/** Stack-trace fragments that must never reach a client. */
export const STACK_TRACE = /\bat [\w.<>]+ \(|node_modules|\.ts:\d+|\.js:\d+/;
