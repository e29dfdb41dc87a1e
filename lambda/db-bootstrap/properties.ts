import { BOOTSTRAP_PROPERTIES, type BootstrapPropertyName } from '../../lib/contract';

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

/** Reads the properties under the contract's names (the construct sets the same ones). */
export function parseBootstrapProperties(raw: Record<string, unknown>): BootstrapProperties {
  const names = Object.values(BOOTSTRAP_PROPERTIES);
  const missing = names.filter((k) => typeof raw[k] !== 'string' || raw[k] === '');
  if (missing.length > 0) throw new Error(`db-bootstrap: missing resource properties: ${missing.join(', ')}.`);
  const s = (k: BootstrapPropertyName) => raw[k] as string;
  const rawPort = s(BOOTSTRAP_PROPERTIES.port);
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`db-bootstrap: ${BOOTSTRAP_PROPERTIES.port} '${rawPort}' is invalid.`);
  return {
    masterSecretArn: s(BOOTSTRAP_PROPERTIES.masterSecretArn),
    appSecretArn: s(BOOTSTRAP_PROPERTIES.appSecretArn),
    host: s(BOOTSTRAP_PROPERTIES.host),
    port,
    databaseName: s(BOOTSTRAP_PROPERTIES.databaseName),
    schema: s(BOOTSTRAP_PROPERTIES.schema),
    ownerRole: s(BOOTSTRAP_PROPERTIES.ownerRole),
    appUsername: s(BOOTSTRAP_PROPERTIES.appUsername),
  };
}
