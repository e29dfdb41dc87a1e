/**
 * The HTTP app as a function of its dependencies. `compose.ts` (the composition root) builds it
 * over real Postgres, Redis and the LLM; tests call `buildHttpApp` with fakes and use `app.inject()`.
 */
import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { ERROR_CODES, HEADERS, LIMITS, REQUEST_ID_PATTERN } from '../../lib/contract';
import { AppError } from './errors';
import { chatRoute } from './routes/chat';
import { chatStreamRoute } from './routes/chat-stream';
import { installErrorHandlers } from './routes/error-handler';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import type { AppDeps } from './types';

/** Above the ALB's 60 s idle timeout, so the ALB (not us) closes idle keep-alive connections. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export function fastifyOptions(): FastifyServerOptions {
  return {
    logger: false,
    // 413 as soon as Content-Length (or the streamed byte count) passes the limit: never buffered.
    bodyLimit: LIMITS.maxBodyBytes,
    // One hop: the ALB. The client is the address the ALB appended to X-Forwarded-For, not the
    // left-most entry, which any client can forge.
    trustProxy: (_address: string, hop: number) => hop === 0,
    genReqId: (req) => {
      const given = req.headers[HEADERS.requestId];
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
    },
    // During the drain, requests on open keep-alive connections are answered normally (with
    // `Connection: close`), not with Fastify's automatic 503.
    return503OnClosing: false,
    forceCloseConnections: false,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    ajv: { customOptions: { coerceTypes: false, allErrors: true, removeAdditional: false } },
  };
}

export async function buildHttpApp(
  deps: AppDeps,
  options: FastifyServerOptions = fastifyOptions(),
): Promise<FastifyInstance> {
  const app = Fastify(options);
  // JSON only: any other body (text/plain included, which Fastify parses by default) is a 415.
  app.removeContentTypeParser('text/plain');

  app.decorateRequest('logger', null as never);
  app.decorateRequest('cacheStatus', undefined);

  /**
   * Metrics and the access line for one finished response. Runs on the raw response's 'close',
   * which fires for every response: sent by Fastify, hijacked (SSE, where Fastify's onResponse
   * hooks never run) or cut off by the client.
   */
  const finished = (request: FastifyRequest, reply: FastifyReply, startedAt: number): void => {
    // Measured here: Fastify only times replies when it has a logger or onResponse hooks.
    const elapsedMs = performance.now() - startedAt;
    const status = reply.raw.statusCode;
    const completed = reply.raw.writableFinished;
    if (request.routeOptions.config.chatRoute) {
      deps.metrics.increment('requests');
      deps.metrics.observe('requestLatencyMs', elapsedMs);
      if (status >= 500) deps.metrics.increment('serverErrors');
    }
    // No body, no message text: only what an operator needs.
    request.logger.info('request', {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status,
      ms: Math.round(elapsedMs * 10) / 10,
      ...(request.cacheStatus ? { cache: request.cacheStatus } : {}),
      ...(completed ? {} : { aborted: true }),
    });
  };

  app.addHook('onRequest', async (request, reply) => {
    const startedAt = performance.now();
    request.logger = deps.logger.child({ request_id: request.id });
    const end = deps.tracker.begin();
    reply.raw.once('close', () => {
      end();
      finished(request, reply, startedAt);
    });
    reply.header(HEADERS.appVersion, deps.version);
    reply.header(HEADERS.requestId, request.id);
    if (deps.isDraining()) reply.header('connection', 'close');
  });

  installErrorHandlers(app, deps.logger);

  await app.register(rateLimit, {
    global: true,
    max: deps.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => request.ip,
    // Headers only on the 429 itself: the hot path stays lean.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    errorResponseBuilder: (_request, context) =>
      new AppError(429, ERROR_CODES.rateLimited, 'Too many requests from this client; retry later.', {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  });

  await app.register(healthRoutes(deps));
  await app.register(metricsRoutes(deps));
  await app.register(chatRoute(deps));
  await app.register(chatStreamRoute(deps));
  return app;
}
