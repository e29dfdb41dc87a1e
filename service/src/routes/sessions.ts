/**
 * A conversation's lifecycle, for its owner: `GET ROUTES.sessionMessages` (a page of it) and
 * `DELETE ROUTES.session`. Authenticated and counted against the request quota like the chat routes
 * (registered in the same scope); see `chat/conversations.ts` for who gets what.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { LIMITS, ROUTES } from '../../../lib/contract';
import type { Principal } from '../auth/authenticate';
import type { Conversations, HistoryPage } from '../chat/conversations';
import { badRequest } from '../errors';

interface SessionParams {
  readonly session_id: string;
}

interface HistoryQuery {
  readonly limit?: string;
  readonly before?: string;
}

const paramsSchema = {
  type: 'object',
  required: ['session_id'],
  properties: { session_id: { type: 'string', pattern: LIMITS.idPattern } },
} as const;

function owner(principal: Principal | null): string {
  // The authentication hook runs before every API route; no principal here is a wiring bug.
  if (!principal) throw new Error('session route reached without an authenticated principal');
  return principal.sub;
}

/** A whole number in [min, max], written plainly (the query string is not coerced by the schema). */
function wholeNumber(raw: string | undefined, field: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^[0-9]{1,10}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw badRequest('Invalid request.', [{ field, problem: `must be a whole number from ${min} to ${max}` }]);
  }
  return n;
}

function historyPage(query: HistoryQuery): HistoryPage {
  const limit = wholeNumber(query.limit, 'limit', 1, LIMITS.historyPageMax) ?? LIMITS.historyPageDefault;
  const before = wholeNumber(query.before, 'before', 1, 2_147_483_647);
  return before === undefined ? { limit } : { limit, before };
}

export const sessionRoutes =
  (conversations: Conversations): FastifyPluginAsync =>
  async (app) => {
    app.get<{ Params: SessionParams; Querystring: HistoryQuery }>(
      ROUTES.sessionMessages,
      {
        schema: {
          params: paramsSchema,
          querystring: {
            type: 'object',
            properties: { limit: { type: 'string' }, before: { type: 'string' } },
          },
        },
      },
      async (request: FastifyRequest<{ Params: SessionParams; Querystring: HistoryQuery }>) =>
        conversations.page(
          owner(request.principal),
          request.params.session_id,
          historyPage(request.query),
          request.logger,
        ),
    );

    app.delete<{ Params: SessionParams }>(
      ROUTES.session,
      { schema: { params: paramsSchema } },
      async (request, reply) => {
        await conversations.delete(owner(request.principal), request.params.session_id, request.logger);
        return reply.code(204).send();
      },
    );
  };
