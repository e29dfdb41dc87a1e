/**
 * What the stage and pipeline checkers share: a list that collects every problem (so one synth
 * shows everything that is wrong), and the checks that apply to both configs.
 */

/** Collects problems; each checker adds to it, and the caller throws once at the end. */
export class Problems {
  readonly list: string[] = [];

  /** Records `message` unless `condition` holds. An arrow, so checkers can take it as `p`. */
  readonly check = (condition: boolean, message: string): void => {
    if (!condition) this.list.push(message);
  };

  readonly add = (message: string): void => {
    this.list.push(message);
  };

  get empty(): boolean {
    return this.list.length === 0;
  }
}

/** CloudWatch Logs accepts only these retention values (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

export function checkLogRetention(problems: Problems, days: number): void {
  problems.check(
    LOG_RETENTION_DAYS.includes(days),
    `logRetentionDays ${days} is not a CloudWatch Logs retention; use one of ${LOG_RETENTION_DAYS.join(', ')}.`,
  );
}
