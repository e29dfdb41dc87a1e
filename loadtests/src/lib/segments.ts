/**
 * How a gate profile's traffic shape divides when k6 splits a run across runners with
 * `--execution-segment` (the in-AWS gate runs `parallelism` runners): the no-data guards of each
 * runner are scaled by these lower and upper bounds.
 */
import { maxVUs, plannedIterations, type TrafficShape } from '../../../lib/contract/gate-profiles';

/**
 * A lower bound on the iterations one runner executes when k6 splits the run with
 * `--execution-segment` of the given fraction (1 when not split). k6 (v1.8.1, lib/executor) gives
 * each segment at least the floor of its share of the VUs; per-VU iterations follow the VUs, shared
 * iterations are split in proportion to the VUs the segment got (not to the fraction: 40 iterations
 * on 5 VUs split in halves run as 24 and 16), and arrival rates are scaled by the fraction.
 */
export function segmentPlannedIterations(shape: TrafficShape, fraction: number): number {
  if (fraction >= 1) return plannedIterations(shape);
  switch (shape.executor) {
    case 'per-vu-iterations':
      return Math.floor(shape.vus * fraction) * shape.iterations;
    case 'shared-iterations':
      return Math.floor((shape.iterations * Math.floor(shape.vus * fraction)) / shape.vus);
    default:
      return Math.floor(plannedIterations(shape) * fraction);
  }
}

/** An upper bound on the VUs one runner gets for the segment fraction. */
export function segmentMaxVUs(shape: TrafficShape, fraction: number): number {
  return fraction >= 1 ? maxVUs(shape) : Math.ceil(maxVUs(shape) * fraction);
}
