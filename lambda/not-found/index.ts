/**
 * The load balancer's catch-all: every request no listener rule forwards to the service (a path
 * outside the contract's routes) gets the contract's 404 error shape from here.
 *
 * Why a Lambda target and not a fixed-response default action: the ECS guide "Application Load
 * Balancer resources for blue/green deployments" has listed as a limitation that a blue/green
 * deployment fails when a listener's rules mix forward and non-forward actions (redirect,
 * fixed-response, authenticate). Read strictly, a fixed-response default next to the forward rule
 * ECS moves is such a mix. A forward to this function is a forward action under any reading.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html
 */
import { randomUUID } from 'node:crypto';
import type { ALBEvent, ALBResult } from 'aws-lambda';
import { ERROR_CODES, type ErrorResponse, HEADERS, REQUEST_ID_PATTERN } from '../../lib/contract';

export function notFound(event: Pick<ALBEvent, 'headers'>): ALBResult {
  const given = event.headers?.[HEADERS.requestId];
  const requestId = given !== undefined && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
  const body: ErrorResponse = {
    error: { code: ERROR_CODES.notFound, message: 'no route', request_id: requestId },
  };
  return {
    statusCode: 404,
    statusDescription: '404 Not Found',
    isBase64Encoded: false,
    headers: { 'content-type': 'application/json', [HEADERS.requestId]: requestId },
    body: JSON.stringify(body),
  };
}

export const handler = async (event: ALBEvent): Promise<ALBResult> => notFound(event);
