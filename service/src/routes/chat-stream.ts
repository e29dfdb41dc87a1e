/**
 * `POST /api/v1/chat/stream`: the same turn as server-sent events.
 *
 * Until the first token the route is an ordinary JSON route, so validation errors, 429s and 503s
 * keep their status codes and Retry-After. From the first token on the status is 200: `token`
 * events carry deltas, then exactly one `done` (a ChatResponse, sent after both messages are
 * committed) or one `error` (an ErrorResponse body) ends the stream.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import { type CacheStatus, type ChatResponse, HEADERS, ROUTES, SSE_EVENTS } from '../../../lib/contract';
import type { ChatRequestBody } from '../schemas/chat';
import { chatRequestSchema } from '../schemas/chat';
import type { AppDeps } from '../types';
import { chatContext, toChatInput } from './chat-input';
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
        const ctx = chatContext(request, reply);
        const start = (status: CacheStatus) => {
          started = true;
          request.cacheStatus = status;
          reply.hijack();
          raw.writeHead(200, {
            ...(reply.getHeaders() as OutgoingHttpHeaders),
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-cache',
            'x-accel-buffering': 'no',
            [HEADERS.cache]: status,
            // Written before the first token: the lookup's cache and db time only (no llm, no total).
            ...(ctx.timing ? { [HEADERS.serverTiming]: ctx.timing.header({ total: false }) } : {}),
          });
        };
        try {
          const result = await deps.chat.answerStream(input, ctx, start, (delta) =>
            raw.write(sseEvent(SSE_EVENTS.token, { delta })),
          );
          const done: ChatResponse = {
            reply: result.reply,
            session_id: result.sessionId,
            cached: result.cacheStatus === 'HIT',
            request_id: request.id,
          };
          raw.end(sseEvent(SSE_EVENTS.done, done));
        } catch (err) {
          if (!started) throw err;
          const { statusCode, body } = describeError(err, request.id);
          request.logger.warn('stream failed after it started', { status: statusCode, code: body.error.code });
          raw.end(sseEvent(SSE_EVENTS.error, body));
        }
        return reply;
      },
    );
  };
