/** What `buildHttpApp` needs. Everything is injected, so tests can build the app with fakes. */
import type { CacheStatus, ReadinessResponse } from '../../lib/contract';
import type { Authenticator } from './auth/authenticate';
import type { ChatService } from './chat/chat-service';
import type { Conversations } from './chat/conversations';
import type { RequestTracker } from './drain';
import type { Logger } from './observability/logger';
import type { EmfMetrics } from './observability/metrics';
import type { RequestQuotaOptions } from './quota/request-quota';

export type ChatHandler = Pick<ChatService, 'answer' | 'answerStream'>;

export interface AppDeps {
  readonly version: string;
  /** The per-task flood guard per client address, before authentication. */
  readonly rateLimitPerMinute: number;
  /**
   * Addresses the flood guard does not count (RATE_LIMIT_EXEMPT_CIDRS: the VPC's own, so the k6
   * gate runner is not answered 429). Authentication and the principal quotas still apply to them.
   */
  readonly rateLimitExempt?: (address: string) => boolean;
  /** QUOTA_REQUESTS_PER_MINUTE per principal, after authentication; absent in tests that do not exercise it. */
  readonly requestQuota?: RequestQuotaOptions;
  readonly logger: Logger;
  readonly metrics: EmfMetrics;
  readonly chat: ChatHandler;
  /** The session routes (read, delete); absent in tests that do not exercise them. */
  readonly conversations?: Conversations;
  /** Who is calling: bearer-token verification, or `allowEveryone` with AUTH_MODE=off. */
  readonly authenticate: Authenticator;
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
