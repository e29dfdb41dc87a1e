import type { StageConfig } from './stage-config';

/** What a physical name is made of: constructs that name resources take this, not the whole config. */
export type StageNaming = Pick<StageConfig, 'appName' | 'stage'>;

/**
 * Physical names are `<app>-<stage>-<what>`, e.g. `chat-prod-service-5xx`. Alarm names in
 * particular are fixed strings, so the Service stack can name its deployment alarms without a
 * reference to the Monitoring stack (which depends on it).
 */
export function physicalName(config: StageNaming, what: string): string {
  return `${config.appName}-${config.stage}-${what}`;
}

/** The `Service` dimension of every app and gate metric; also the service's `SERVICE_NAME`. */
export function serviceDimension(config: StageNaming): string {
  return physicalName(config, 'api');
}
