/** `GET /api/v1/metrics/cache`: hits, misses, bypasses and hit rate since the process started. */
import type { FastifyPluginAsync } from 'fastify';
import { ROUTES } from '../../../lib/contract';
import type { AppDeps } from '../types';

export const metricsRoutes =
  (deps: AppDeps): FastifyPluginAsync =>
  async (app) => {
    app.get(ROUTES.cacheMetrics, { config: { rateLimit: false } }, async () => deps.metrics.cacheTotals());
  };
