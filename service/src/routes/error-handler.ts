/**
 * Every failure becomes `{error: {code, message, request_id, details?}}` with a contract code.
 * Client mistakes keep their 4xx; anything unexpected is a 500 with a generic message — its
 * details (and stack) go to the log, never to the client.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_CODES, type ErrorResponse, HEADERS, LIMITS } from '../../../lib/contract';
import { AppError, errorBody, type FieldProblem } from '../errors';
import type { Logger } from '../observability/logger';

export interface DescribedError {
  readonly statusCode: number;
  readonly body: ErrorResponse;
  readonly retryAfterSeconds?: number;
  /** True for the 500s nobody planned for. */
  readonly unexpected: boolean;
}

interface AjvIssue {
  readonly instancePath?: string;
  readonly keyword?: string;
  readonly message?: string;
  readonly params?: { readonly missingProperty?: string };
}

function fieldProblems(validation: readonly AjvIssue[]): FieldProblem[] {
  return validation.map((v) => {
    const path = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    if (v.keyword === 'required' && v.params?.missingProperty) {
      return { field: path ? `${path}.${v.params.missingProperty}` : v.params.missingProperty, problem: 'is required' };
    }
    if (v.keyword === 'pattern') return { field: path, problem: `must match ${LIMITS.idPattern}` };
    return { field: path || '(body)', problem: v.message ?? 'is invalid' };
  });
}

export function describeError(err: unknown, requestId: string): DescribedError {
  if (err instanceof AppError) {
    return {
      statusCode: err.statusCode,
      body: errorBody(err.code, err.message, requestId, err.extra.details),
      ...(err.extra.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.extra.retryAfterSeconds }),
      unexpected: false,
    };
  }
  const e = err as Partial<FastifyError> & { validation?: readonly AjvIssue[] };
  if (Array.isArray(e.validation)) {
    return {
      statusCode: 400,
      body: errorBody(ERROR_CODES.badRequest, 'Invalid request.', requestId, fieldProblems(e.validation)),
      unexpected: false,
    };
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        statusCode: 413,
        body: errorBody(ERROR_CODES.payloadTooLarge, `Request body exceeds ${LIMITS.maxBodyBytes} bytes.`, requestId),
        unexpected: false,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        statusCode: 415,
        body: errorBody(ERROR_CODES.badRequest, 'Content-Type must be application/json.', requestId),
        unexpected: false,
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        statusCode: 400,
        body: errorBody(ERROR_CODES.badRequest, 'Request body is not valid JSON.', requestId),
        unexpected: false,
      };
    default:
      break;
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status === 400 && err instanceof SyntaxError) {
    return {
      statusCode: 400,
      body: errorBody(ERROR_CODES.badRequest, 'Request body is not valid JSON.', requestId),
      unexpected: false,
    };
  }
  if (status >= 400 && status < 500) {
    return {
      statusCode: status,
      body: errorBody(ERROR_CODES.badRequest, 'Bad request.', requestId),
      unexpected: false,
    };
  }
  return {
    statusCode: 500,
    body: errorBody(ERROR_CODES.internal, 'Internal error.', requestId),
    unexpected: true,
  };
}

export function installErrorHandlers(app: FastifyInstance, baseLogger: Logger): void {
  app.setErrorHandler((err, request, reply) => {
    const described = describeError(err, request.id);
    // Errors raised before our onRequest hook ran have no request logger yet.
    const logger = request.logger ?? baseLogger.child({ request_id: request.id });
    if (described.unexpected) {
      logger.error('unhandled error', { error: err });
    } else if (described.statusCode >= 500) {
      logger.warn('request failed', { status: described.statusCode, code: described.body.error.code });
    }
    if (described.retryAfterSeconds !== undefined) {
      reply.header(HEADERS.retryAfter, String(described.retryAfterSeconds));
    }
    reply.code(described.statusCode).send(described.body);
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(ERROR_CODES.notFound, 'No such route.', request.id));
  });
}
