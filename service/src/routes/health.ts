/** Liveness (`/health`) and readiness (`/health/ready`, the ALB health check). Never rate limited. */
import type { FastifyPluginAsync } from 'fastify';
import { HEADERS, type LivenessResponse, ROUTES } from '../../../lib/contract';
import { DEPENDENCY_RETRY_AFTER_SECONDS } from '../errors';
import type { AppDeps } from '../types';

export const healthRoutes =
  (deps: AppDeps): FastifyPluginAsync =>
  async (app) => {
    app.get(ROUTES.health, { config: { rateLimit: false } }, async () => {
      const body: LivenessResponse = { status: 'ok', version: deps.version };
      return body;
    });

    app.get(ROUTES.ready, { config: { rateLimit: false } }, async (_request, reply) => {
      const snapshot = deps.readiness();
      if (snapshot.status === 'not_ready') {
        reply.code(503).header(HEADERS.retryAfter, String(DEPENDENCY_RETRY_AFTER_SECONDS));
      }
      return snapshot;
    });
  };
