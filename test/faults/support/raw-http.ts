/**
 * HTTP/1.1 over a bare socket, for input that a well-behaved client refuses to send: duplicate
 * Content-Length, invalid UTF-8, header names and values of any size, bodies sent slowly.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** 0 when the server closed the connection without a status line. */
  readonly status: number;
  readonly headers: Record<string, string>;
  /** The body, de-chunked when Transfer-Encoding is chunked. */
  readonly body: string;
  /** Socket error seen while sending or reading (EPIPE/ECONNRESET after an early answer). */
  readonly socketError?: string;
  readonly timedOut: boolean;
}

export interface RawRequest {
  readonly method?: string;
  readonly path: string;
  /** Header lines in order, duplicates allowed; `Host` and `Connection: close` are added. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: Buffer | string;
  /** Adds `Content-Length` for the body unless a header line already sets one. @default true */
  readonly autoContentLength?: boolean;
  readonly timeoutMs?: number;
}

/** One request on a fresh connection (`Connection: close`); resolves when the server closes it. */
export function rawRequest(port: number, request: RawRequest): Promise<RawResponse> {
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body);
  const lines: Array<readonly [string, string]> = [['Host', `127.0.0.1:${port}`], ...(request.headers ?? [])];
  const hasLength = lines.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k));
  if ((request.autoContentLength ?? true) && !hasLength) lines.push(['Content-Length', String(body.length)]);
  lines.push(['Connection', 'close']);
  const head = Buffer.from(
    `${request.method ?? 'POST'} ${request.path} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`,
    'latin1',
  );
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let socketError: string | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, request.timeoutMs ?? 10_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socketError = err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ...parseResponse(Buffer.concat(chunks)), ...(socketError ? { socketError } : {}), timedOut });
    });
    socket.write(Buffer.concat([head, body]));
  });
}

export function parseResponse(raw: Buffer): Pick<RawResponse, 'status' | 'headers' | 'body'> {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (!text.startsWith('HTTP/1.1 ') || end === -1) return { status: 0, headers: {}, body: '' };
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const status = Number(statusLine?.split(' ')[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let bodyBytes = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) bodyBytes = dechunk(bodyBytes);
  return { status, headers, body: bodyBytes.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}

export interface SlowUploadResult {
  readonly response: RawResponse;
  /** Body bytes written before the first response byte arrived (-1: no response). */
  readonly bytesSentBeforeResponse: number;
  readonly bytesSentTotal: number;
  readonly declaredBytes: number;
}

/**
 * Sends a body of `totalBytes` in `chunkBytes` pieces, one every `intervalMs`, with chunked
 * transfer encoding (the server cannot know the size up front), and records how much had been sent
 * when the response began. Stops sending as soon as the response begins or the socket closes.
 */
export function slowUpload(
  port: number,
  path: string,
  options: { totalBytes: number; chunkBytes: number; intervalMs: number; timeoutMs?: number },
): Promise<SlowUploadResult> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let sent = 0;
    let sentBeforeResponse = -1;
    let socketError: string | undefined;
    let timedOut = false;
    const filler = Buffer.alloc(options.chunkBytes, 0x61);
    // A JSON prefix, so the body would be a valid (huge) chat request if it were ever read whole.
    const prefix = Buffer.from('{"message":"');
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
        'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    );
    const writeChunk = (payload: Buffer) => {
      socket.write(Buffer.concat([Buffer.from(`${payload.length.toString(16)}\r\n`), payload, Buffer.from('\r\n')]));
      sent += payload.length;
    };
    writeChunk(prefix);
    const interval = setInterval(() => {
      if (socket.destroyed || sentBeforeResponse !== -1 || sent >= options.totalBytes) {
        clearInterval(interval);
        return;
      }
      writeChunk(filler);
    }, options.intervalMs);
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, options.timeoutMs ?? 30_000);
    socket.on('data', (c: Buffer) => {
      if (sentBeforeResponse === -1) sentBeforeResponse = sent;
      chunks.push(c);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socketError = err.code ?? err.message;
    });
    socket.on('close', () => {
      clearInterval(interval);
      clearTimeout(timer);
      resolve({
        response: { ...parseResponse(Buffer.concat(chunks)), ...(socketError ? { socketError } : {}), timedOut },
        bytesSentBeforeResponse: sentBeforeResponse,
        bytesSentTotal: sent,
        declaredBytes: options.totalBytes,
      });
    });
  });
}
