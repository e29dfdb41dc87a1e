/**
 * JSON schemas of the chat routes. Fastify compiles the request schema with Ajv (no type
 * coercion: `"message": 123` is a 400, not the string "123") and the response schema with
 * fast-json-stringify.
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
    user_id: { type: 'string', pattern: LIMITS.idPattern },
  },
} as const;

export const chatResponseSchema = {
  type: 'object',
  required: ['reply', 'session_id', 'cached', 'request_id'],
  properties: {
    reply: { type: 'string' },
    session_id: { type: 'string' },
    cached: { type: 'boolean' },
    request_id: { type: 'string' },
  },
} as const;

export interface ChatRequestBody {
  readonly message: string;
  readonly session_id?: string;
  readonly user_id?: string;
}
