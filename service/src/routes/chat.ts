/** `POST /api/chatbot`: one turn, answered as JSON. */
import type { FastifyPluginAsync } from 'fastify';
import { type ChatResponse, HEADERS, ROUTES } from '../../../lib/contract';
import type { ChatRequestBody } from '../schemas/chat';
import { chatRequestSchema, chatResponseSchema } from '../schemas/chat';
import type { AppDeps } from '../types';
import { chatContext, toChatInput, toUsage } from './chat-input';

export const chatRoute =
  (deps: AppDeps): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Body: ChatRequestBody }>(
      ROUTES.chat,
      { schema: { body: chatRequestSchema, response: { 200: chatResponseSchema } }, config: { chatRoute: true } },
      async (request, reply) => {
        const input = toChatInput(request.body, request.principal);
        const ctx = chatContext(request, reply);
        const result = await deps.chat.answer(input, ctx);
        reply.header(HEADERS.cache, result.cacheStatus);
        reply.header(HEADERS.serverTiming, ctx.timing?.header({ total: true }));
        request.cacheStatus = result.cacheStatus;
        const body: ChatResponse = {
          reply: result.reply,
          session_id: result.sessionId,
          cached: result.cacheStatus === 'HIT',
          request_id: request.id,
          usage: toUsage(result.usage),
        };
        return body;
      },
    );
  };
