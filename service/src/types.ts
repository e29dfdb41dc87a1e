/** What `buildHttpApp` needs. Everything is injected, so tests can build the app with fakes. */
import type { CacheStatus, ReadinessResponse } from '../../lib/contract';
import type { ChatService } from './chat/chat-service';
import type { RequestTracker } from './drain';
import type { Logger } from './observability/logger';
import type { EmfMetrics } from './observability/metrics';

export type ChatHandler = Pick<ChatService, 'answer' | 'answerStream'>;

export interface AppDeps {
  readonly version: string;
  readonly rateLimitPerMinute: number;
  readonly logger: Logger;
  readonly metrics: EmfMetrics;
  readonly chat: ChatHandler;
  readonly readiness: () => ReadinessResponse;
  /** True from SIGTERM on: answers carry `Connection: close` and readiness is `not_ready`. */
  readonly isDraining: () => boolean;
  /** Counts requests in flight, so the drain knows when they are done. */
  readonly tracker: RequestTracker;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request-scoped logger (carries `request_id`). */
    logger: Logger;
    /** Set by the chat routes, for the access log line. */
    cacheStatus: CacheStatus | undefined;
  }
  interface FastifyContextConfig {
    /** Chat routes feed the request metrics (Requests, RequestLatency, ServerErrors). */
    chatRoute?: boolean;
  }
}
