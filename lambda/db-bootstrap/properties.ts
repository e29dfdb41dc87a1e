/** The custom resource's properties, as CloudFormation sends them (every value is a string). */
export interface BootstrapProperties {
  readonly masterSecretArn: string;
  readonly appSecretArn: string;
  readonly host: string;
  readonly port: number;
  readonly databaseName: string;
  readonly schema: string;
  readonly ownerRole: string;
  readonly appUsername: string;
}

/** The property names the CDK construct sets; shared so the two can't drift. */
export const BOOTSTRAP_PROPERTY_NAMES = [
  'MasterSecretArn',
  'AppSecretArn',
  'Host',
  'Port',
  'DatabaseName',
  'Schema',
  'OwnerRole',
  'AppUsername',
] as const;

export function parseBootstrapProperties(raw: Record<string, unknown>): BootstrapProperties {
  const missing = BOOTSTRAP_PROPERTY_NAMES.filter((k) => typeof raw[k] !== 'string' || raw[k] === '');
  if (missing.length > 0) throw new Error(`db-bootstrap: missing resource properties: ${missing.join(', ')}.`);
  const port = Number(raw.Port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`db-bootstrap: Port '${raw.Port}' is invalid.`);
  const s = (k: (typeof BOOTSTRAP_PROPERTY_NAMES)[number]) => raw[k] as string;
  return {
    masterSecretArn: s('MasterSecretArn'),
    appSecretArn: s('AppSecretArn'),
    host: s('Host'),
    port,
    databaseName: s('DatabaseName'),
    schema: s('Schema'),
    ownerRole: s('OwnerRole'),
    appUsername: s('AppUsername'),
  };
}
