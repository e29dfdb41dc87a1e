/**
 * The database bootstrap custom resource (`lambda/db-bootstrap`): the property names the construct
 * (`lib/constructs/chat-database.ts`) sets and the handler reads. CloudFormation sends every value
 * as a string.
 */
export const BOOTSTRAP_PROPERTIES = {
  masterSecretArn: 'MasterSecretArn',
  appSecretArn: 'AppSecretArn',
  host: 'Host',
  port: 'Port',
  databaseName: 'DatabaseName',
  schema: 'Schema',
  ownerRole: 'OwnerRole',
  appUsername: 'AppUsername',
} as const;

export type BootstrapPropertyName = (typeof BOOTSTRAP_PROPERTIES)[keyof typeof BOOTSTRAP_PROPERTIES];
