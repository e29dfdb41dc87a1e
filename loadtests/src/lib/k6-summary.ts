/**
 * k6's end-of-test summary data (what `handleSummary` receives), as far as the gate reads it: the
 * shape the gate's report and the comparisons' results are both built from.
 * https://grafana.com/docs/k6/latest/results-output/end-of-test/custom-summary/
 */

/** The parts of k6's summary data the gate reads (k6 v1.x, legacy-compatible `data`). */
export interface K6MetricSummary {
  readonly type: 'counter' | 'gauge' | 'rate' | 'trend';
  readonly contains?: string;
  readonly values: Readonly<Record<string, number>>;
  readonly thresholds?: Readonly<Record<string, { readonly ok: boolean }>>;
}

export interface K6Check {
  readonly name: string;
  readonly path?: string;
  readonly passes: number;
  readonly fails: number;
}

export interface K6Group {
  readonly name: string;
  readonly path?: string;
  readonly groups: readonly K6Group[];
  readonly checks: readonly K6Check[];
}

export interface K6SummaryData {
  readonly metrics: Readonly<Record<string, K6MetricSummary>>;
  readonly root_group: K6Group;
  readonly state: { readonly testRunDurationMs: number };
  readonly setup_data?: unknown;
  readonly options?: unknown;
}
