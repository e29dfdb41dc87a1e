/**
 * The HTTP app as a function of its dependencies. `compose.ts` (the composition root) builds it
 * over real Postgres, Redis and the LLM; tests call `buildHttpApp` with fakes and use `app.inject()`.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { ERROR_CODES, HEADERS, integerEnvDefault, LIMITS, REQUEST_ID_PATTERN } from '../../lib/contract';
import { installAuthentication } from './auth/authenticate';
import { AppError, errorBody } from './errors';
import { installRequestQuota } from './quota/request-quota';
import { chatRoute } from './routes/chat';
import { chatStreamRoute } from './routes/chat-stream';
import { installErrorHandlers } from './routes/error-handler';
import { healthRoutes } from './routes/health';
import { metricsRoutes } from './routes/metrics';
import { sessionRoutes } from './routes/sessions';
import type { AppDeps } from './types';

/**
 * KEEP_ALIVE_TIMEOUT_SECONDS' default: above the ALB's idle timeout (a relation checked at synth,
 * lib/config/relations.ts), so the ALB, not the service, closes idle keep-alive connections.
 */
export const KEEP_ALIVE_TIMEOUT_MS = integerEnvDefault('KEEP_ALIVE_TIMEOUT_SECONDS') * 1000;

/** How often Node looks for requests past `requestTimeout`. */
export const REQUEST_TIMEOUT_CHECK_MS = 1_000;

/**
 * Errors Node raises on a connection outside any route. A request that did not arrive within
 * `requestTimeout` gets the contract's error body; the others (malformed framing, oversized headers)
 * are answered as Fastify's default handler answers them.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let head: string;
  let body: string;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    head = '408 Request Timeout';
    body = JSON.stringify(errorBody(ERROR_CODES.requestTimeout, 'The request did not arrive in time.', randomUUID()));
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    head = '431 Request Header Fields Too Large';
    body =
      '{"error":"Request Header Fields Too Large","message":"Exceeded maximum allowed HTTP header size","statusCode":431}';
  } else {
    head = '400 Bad Request';
    body = '{"error":"Bad Request","message":"Client Error","statusCode":400}';
  }
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export interface HttpServerSettings {
  /**
   * KEEP_ALIVE_TIMEOUT_SECONDS in ms. Node announces it on every response as `Keep-Alive: timeout=N`
   * and closes a connection idle that long; the ALB must give up on an idle connection first
   * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout).
   */
  readonly keepAliveTimeoutMs: number;
}

export function fastifyOptions(
  settings: HttpServerSettings = { keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS },
): FastifyServerOptions {
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
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    // A request (headers and a body of at most 32 KiB) that has not arrived within this long is
    // answered 408 and its socket closed, so a stalled upload cannot hold a connection.
    requestTimeout: LIMITS.requestTimeoutMs,
    // Given to http.createServer too: Node fixes its timeout checks there. headersTimeout must not
    // exceed requestTimeout (Node swaps the two when it does, and the body would get 66 s). Idle
    // keep-alive connections are not requests: keepAliveTimeout alone governs them. Node checks
    // every REQUEST_TIMEOUT_CHECK_MS (default 30 s), so a stalled body gets its 408 within
    // requestTimeoutMs + 1 s. (FastifyServerOptions leaves `http` to Fastify's overloads.)
    ...({
      http: {
        requestTimeout: LIMITS.requestTimeoutMs,
        headersTimeout: LIMITS.requestTimeoutMs,
        connectionsCheckingInterval: REQUEST_TIMEOUT_CHECK_MS,
      },
    } as FastifyServerOptions),
    clientErrorHandler: answerClientError,
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
    // Read once: each read of `routeOptions` builds a new object.
    const route = request.routeOptions;
    if (route.config.chatRoute) {
      deps.metrics.increment('requests');
      deps.metrics.observe('requestLatencyMs', elapsedMs);
      if (status >= 500) deps.metrics.increment('serverErrors');
    }
    // No body, no message text: only what an operator needs.
    request.logger.info('request', {
      method: request.method,
      route: route.url ?? 'unmatched',
      status,
      ms: Math.round(elapsedMs * 10) / 10,
      ...(request.cacheStatus ? { cache: request.cacheStatus } : {}),
      ...(completed ? {} : { aborted: true }),
    });
  };

  // A callback hook, not an async one: nothing here waits, so no promise and no extra microtask per request.
  app.addHook('onRequest', (request, reply, done) => {
    const startedAt = performance.now();
    request.logger = deps.logger.child({ request_id: request.id });
    const end = deps.tracker.begin();
    // A response emits 'close' once: `on` spares the `once` wrapper.
    reply.raw.on('close', () => {
      end();
      finished(request, reply, startedAt);
    });
    reply.header(HEADERS.appVersion, deps.version);
    reply.header(HEADERS.requestId, request.id);
    if (deps.isDraining()) reply.header('connection', 'close');
    done();
  });

  installErrorHandlers(app, deps.logger);

  const exempt = deps.rateLimitExempt;
  await app.register(rateLimit, {
    global: true,
    max: deps.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => request.ip,
    // RATE_LIMIT_EXEMPT_CIDRS (the VPC's CIDR): callers inside the VPC, the k6 gate runner above
    // all, are not counted here. request.ip is the address the ALB appended, which an internet
    // client cannot choose; the exempt still need a valid token and meet their principal's quotas.
    ...(exempt ? { allowList: (request: FastifyRequest) => exempt(request.ip) } : {}),
    // Headers only on the 429 itself: the hot path stays lean.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    errorResponseBuilder: (_request, context) =>
      new AppError(429, ERROR_CODES.rateLimited, 'Too many requests from this client; retry later.', {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  });

  // After the rate limiter (so unauthenticated floods are limited too), before every route.
  installAuthentication(app, {
    authenticate: deps.authenticate,
    onRejected: () => deps.metrics.increment('unauthenticated'),
  });

  await app.register(healthRoutes(deps));
  // The API routes, each request counted against its principal's quota after authentication.
  await app.register(async (api) => {
    if (deps.requestQuota) await installRequestQuota(api, deps.requestQuota);
    await api.register(metricsRoutes(deps));
    await api.register(chatRoute(deps));
    await api.register(chatStreamRoute(deps));
    if (deps.conversations) await api.register(sessionRoutes(deps.conversations));
  });
  return app;
}
