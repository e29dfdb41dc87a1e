/**
 * JSON schemas of the chat routes. Fastify compiles the request schema with Ajv (no type
 * coercion: `"message": 123` is a 400, not the string "123") and the response schema with
 * fast-json-stringify.
 *
 * `user_id` is not a field any more: the caller is the bearer token's `sub`, and an id a client could
 * choose would let it act as someone else. A body that still sends one is accepted and the value ignored.
 *
 * The message's length limit is not in the schema on purpose: an oversized message is a 413
 * (`payload_too_large`), not a 400, and it is measured after trimming.
 */
import { LIMITS } from '../../../lib/contract';

export const chatRequestSchema = {
  type: 'object',
  required: ['message'],
  properties: {
    message: { type: 'string' },
    session_id: { type: 'string', pattern: LIMITS.idPattern },
  },
} as const;

export const chatResponseSchema = {
  type: 'object',
  required: ['reply', 'session_id', 'cached', 'request_id', 'usage'],
  properties: {
    reply: { type: 'string' },
    session_id: { type: 'string' },
    cached: { type: 'boolean' },
    request_id: { type: 'string' },
    usage: {
      type: 'object',
      required: ['input_tokens', 'output_tokens'],
      properties: { input_tokens: { type: 'integer' }, output_tokens: { type: 'integer' } },
    },
  },
} as const;

/** Other fields (a legacy `user_id` included) are ignored: the caller is the token's `sub`. */
export interface ChatRequestBody {
  readonly message: string;
  readonly session_id?: string;
}
