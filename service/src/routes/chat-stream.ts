/**
 * `POST /api/v1/chat/stream`: the same turn as server-sent events.
 *
 * Until the first token the route is an ordinary JSON route, so validation errors, 429s and 503s
 * keep their status codes and Retry-After. The status line, the headers and the first `token` event
 * leave in ONE write, so a client's first byte is its first token (what k6's `timings.waiting`
 * measures, `SSE_EVENTS` in the contract). From then on the status is 200: `token` events carry
 * deltas, then exactly one `done` (a StreamDone: the ChatResponse with the turn's `usage` and its
 * whole `server_timing`, sent after both messages are committed) or one `error` (an ErrorResponse
 * body) ends the stream.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import { type CacheStatus, HEADERS, ROUTES, SSE_EVENTS, type StreamDone } from '../../../lib/contract';
import type { ChatRequestBody } from '../schemas/chat';
import { chatRequestSchema } from '../schemas/chat';
import type { AppDeps } from '../types';
import { chatContext, toChatInput, toUsage } from './chat-input';
import { describeError } from './error-handler';

export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export const chatStreamRoute =
  (deps: AppDeps): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: ChatRequestBody }>(
      ROUTES.chatStream,
      { schema: { body: chatRequestSchema }, config: { chatRoute: true } },
      async (request, reply) => {
        const input = toChatInput(request.body, request.principal);
        const raw = reply.raw;
        let started = false;
        let headed = false;
        const ctx = chatContext(request, reply);
        // The service knows the cache status at its first token; the head is only written with it.
        const start = (status: CacheStatus) => {
          started = true;
          request.cacheStatus = status;
          reply.hijack();
        };
        const head = (): OutgoingHttpHeaders => {
          const status = request.cacheStatus as CacheStatus;
          return {
            ...(reply.getHeaders() as OutgoingHttpHeaders),
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-cache',
            'x-accel-buffering': 'no',
            [HEADERS.cache]: status,
            // Written before the first token: the lookup's cache and db time only (no llm, no total).
            [HEADERS.serverTiming]: ctx.timing.header({ total: false }),
          };
        };
        const writeToken = (delta: string) => {
          const event = sseEvent(SSE_EVENTS.token, { delta });
          if (headed) {
            raw.write(event);
            return;
          }
          headed = true;
          // One write carries the status line, the headers and the first event: Node sends a head
          // set by writeHead with the first body chunk (`OutgoingMessage._send`), and nothing goes
          // out before it, so the first byte on the wire is the first token's.
          raw.writeHead(200, head());
          raw.write(event);
        };
        try {
          const result = await deps.chat.answerStream(input, ctx, start, writeToken);
          const done: StreamDone = {
            reply: result.reply,
            session_id: result.sessionId,
            cached: result.cacheStatus === 'HIT',
            request_id: request.id,
            usage: toUsage(result.usage),
            // The turn's whole timing, total included: the head left before the LLM finished.
            server_timing: ctx.timing.header({ total: true }),
          };
          if (!headed) raw.writeHead(200, head()); // an empty reply: the head goes with `done`
          raw.end(sseEvent(SSE_EVENTS.done, done));
        } catch (err) {
          if (!started) throw err;
          const { statusCode, body } = describeError(err, request.id);
          request.logger.warn('stream failed after it started', { status: statusCode, code: body.error.code });
          if (!headed) raw.writeHead(200, head());
          raw.end(sseEvent(SSE_EVENTS.error, body));
        }
        return reply;
      },
    );
  };
