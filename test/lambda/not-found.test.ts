/**
 * The load balancer's catch-all target: a path no listener rule forwards gets the contract's 404,
 * the same shape the service gives, with the caller's request id echoed when it is safe.
 */
import { handler, notFound } from '../../lambda/not-found';
import { ERROR_CODES, HEADERS } from '../../lib/contract';

test('answers 404 in the contract error shape, as JSON', async () => {
  const result = await handler({
    headers: { [HEADERS.requestId]: 'req-123' },
    httpMethod: 'GET',
    path: '/wp-admin',
    queryStringParameters: {},
    body: null,
    isBase64Encoded: false,
    requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/y' } },
  });
  expect(result.statusCode).toBe(404);
  expect(result.headers?.['content-type']).toBe('application/json');
  expect(JSON.parse(result.body ?? '')).toEqual({
    error: { code: ERROR_CODES.notFound, message: 'no route', request_id: 'req-123' },
  });
  expect(result.headers?.[HEADERS.requestId]).toBe('req-123');
});

test('an unsafe request id is not echoed: a fresh one is made', () => {
  const result = notFound({ headers: { [HEADERS.requestId]: '<script>alert(1)</script>' } });
  const id = JSON.parse(result.body ?? '').error.request_id as string;
  expect(id).not.toContain('<');
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
});
