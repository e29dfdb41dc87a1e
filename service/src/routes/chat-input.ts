/**
 * What the schema can't say: the trimmed message is non-empty, holds no NUL character and is within
 * LIMITS.maxMessageChars. The caller is the authenticated principal, never a field of the body.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type ChatUsage, LIMITS } from '../../../lib/contract';
import type { Principal } from '../auth/authenticate';
import type { ChatContext, ChatInput, TurnUsage } from '../chat/chat-service';
import { badRequest, payloadTooLarge } from '../errors';
import type { Logger } from '../observability/logger';
import { ServerTiming } from '../observability/server-timing';
import type { ChatRequestBody } from '../schemas/chat';

export function toChatInput(body: ChatRequestBody, principal: Principal | null): ChatInput {
  // The authentication hook runs before every chat route; no principal here is a wiring bug.
  if (!principal) throw new Error('chat route reached without an authenticated principal');
  const message = body.message.trim();
  if (message.length === 0) {
    throw badRequest('Invalid request.', [{ field: 'message', problem: 'must not be empty' }]);
  }
  // Postgres text cannot hold U+0000: without this check the turn would reach the LLM and then
  // fail at the insert as a 503 "database unavailable" (a client mistake blamed on a dependency).
  if (message.includes('\u0000')) {
    throw badRequest('Invalid request.', [{ field: 'message', problem: 'must not contain NUL (U+0000) characters' }]);
  }
  if (message.length > LIMITS.maxMessageChars) {
    throw payloadTooLarge(`message is longer than ${LIMITS.maxMessageChars} characters`);
  }
  return {
    message,
    owner: principal.sub,
    ...(body.session_id === undefined ? {} : { sessionId: body.session_id }),
  };
}

/**
 * The turn's context. Its `signal` aborts when the client disconnects before the answer is sent
 * (stop paying for an LLM call nobody will read). It is created on first use, so a cache hit,
 * which never calls the LLM, never pays for the controller and the listener.
 */
export function chatContext(request: FastifyRequest, reply: FastifyReply): TurnContext {
  return new TurnContext(request, reply);
}

/** A class, not an object literal with a getter and a closure: one small object per turn. */
export class TurnContext implements ChatContext {
  readonly requestId: string;
  readonly logger: Logger;
  readonly timing = new ServerTiming();
  private controller: AbortController | undefined;

  constructor(
    request: FastifyRequest,
    private readonly reply: FastifyReply,
  ) {
    this.requestId = request.id;
    this.logger = request.logger;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      const c = new AbortController();
      this.controller = c;
      // The response's 'close' (not the request's, which fires once the body is read) tells
      // whether the connection went away before the answer was written.
      const raw = this.reply.raw;
      if (raw.destroyed) c.abort();
      else
        raw.once('close', () => {
          if (!raw.writableFinished) c.abort();
        });
    }
    return this.controller.signal;
  }
}

/** The turn's LLM tokens as the contract spells them (`ChatUsage`). */
export function toUsage(usage: TurnUsage): ChatUsage {
  return { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens };
}
