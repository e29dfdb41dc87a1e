import {
  estimateMaxConnections,
  instanceClassMemoryGiB,
  RDS_POSTGRES_MAX_CONNECTIONS_CAP,
} from '../../lib/config/db-connection-limit';

describe('RDS PostgreSQL max_connections estimate', () => {
  test.each([
    ['t4g.micro', 1],
    ['db.t4g.small', 2],
    ['t3.medium', 4],
    ['m7g.large', 8],
    ['db.m6i.xlarge', 16],
    ['r6g.2xlarge', 64],
    ['r7g.16xlarge', 512],
  ])('%s has %d GiB', (instanceType, gib) => {
    expect(instanceClassMemoryGiB(instanceType)).toBe(gib);
  });

  test('is below the nominal-memory formula, so the alarm errs early', () => {
    for (const type of ['t4g.micro', 't4g.small', 'm7g.large']) {
      const nominal = Math.floor((instanceClassMemoryGiB(type)! * 1024 ** 3) / 9_531_392);
      expect(estimateMaxConnections(type)).toBeLessThan(nominal);
    }
    expect(estimateMaxConnections('t4g.micro')).toBe(79);
  });

  test("is capped at RDS's 5000", () => {
    expect(estimateMaxConnections('r7g.16xlarge')).toBe(RDS_POSTGRES_MAX_CONNECTIONS_CAP);
  });

  test('is undefined for a class it does not know, so synth asks for dbMaxConnections', () => {
    expect(estimateMaxConnections('x2g.large')).toBeUndefined();
    expect(estimateMaxConnections('t4g.nano')).toBeUndefined();
    expect(estimateMaxConnections('not a class')).toBeUndefined();
  });
});
