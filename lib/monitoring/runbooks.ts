/**
 * Runbooks live in `docs/runbooks/<alarm-id>.md`, one per alarm ID (per-node cache alarms share
 * their ID's runbook). Alarm descriptions link them as `<runbookBaseUrl>/<alarm-id>.md`:
 * by default the repository path, or e.g. the repository's web URL when the stage config sets
 * `monitoring.runbookBaseUrl`.
 */
import type { StageConfig } from '../config';

/** The runbooks' folder inside the repository, and the default base of runbook links. */
export const RUNBOOK_DIR = 'docs/runbooks';

/** Headings every runbook has, in this order (`test/infra/runbooks.test.ts` checks them). */
export const RUNBOOK_SECTIONS = [
  'What it means',
  'User impact',
  'First checks',
  'Mitigations',
  'When to escalate',
] as const;

export function runbookLink(config: Pick<StageConfig, 'monitoring'>, id: string): string {
  return `${config.monitoring.runbookBaseUrl ?? RUNBOOK_DIR}/${id}.md`;
}
