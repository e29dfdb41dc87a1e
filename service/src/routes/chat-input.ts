/** What the schema can't say: the trimmed message is non-empty and within LIMITS.maxMessageChars. */
import type { FastifyReply } from 'fastify';
import { LIMITS } from '../../../lib/contract';
import type { ChatInput } from '../chat/chat-service';
import { badRequest, payloadTooLarge } from '../errors';
import type { ChatRequestBody } from '../schemas/chat';

export function toChatInput(body: ChatRequestBody): ChatInput {
  const message = body.message.trim();
  if (message.length === 0) {
    throw badRequest('Invalid request.', [{ field: 'message', problem: 'must not be empty' }]);
  }
  if (message.length > LIMITS.maxMessageChars) {
    throw payloadTooLarge(`message is longer than ${LIMITS.maxMessageChars} characters`);
  }
  return {
    message,
    ...(body.session_id === undefined ? {} : { sessionId: body.session_id }),
    ...(body.user_id === undefined ? {} : { userId: body.user_id }),
  };
}

/** Aborted when the client disconnects before the answer is sent: stop paying for the LLM call. */
export function abortOnClientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // The response's 'close' (not the request's, which fires once the body is read) tells whether
  // the connection went away before the answer was written.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
