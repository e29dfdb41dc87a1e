/**
 * Custom-resource handler (CDK Provider framework `onEvent`): creates the application's database
 * role and schema, idempotently, as the master user. The decisions live in `bootstrap.ts`.
 *
 * TLS: Node.js 20+ Lambda runtimes no longer load Amazon's CA bundle by default; the function sets
 * NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem so `rejectUnauthorized: true` can verify RDS.
 * (AWS Compute Blog, "Node.js 20.x runtime now available in AWS Lambda", Nov 2023.)
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { Client } from 'pg';
import { bootstrapDatabase } from './bootstrap';
import { parseBootstrapProperties } from './properties';
import { readDbLogin } from './secrets';

const secrets = new SecretsManagerClient({});

interface ProviderResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

export async function handler(event: CloudFormationCustomResourceEvent): Promise<ProviderResponse> {
  const props = parseBootstrapProperties(event.ResourceProperties);
  const physicalId = `${props.host}:${props.port}/${props.databaseName}/${props.appUsername}`;
  if (event.RequestType === 'Delete') {
    // Roles and schema live and die with the database (and its final snapshot); never drop them here.
    log({ event: 'db-bootstrap.delete', physicalId, action: 'none' });
    return { PhysicalResourceId: event.PhysicalResourceId };
  }

  const [master, app] = await Promise.all([
    readDbLogin(secrets, props.masterSecretArn),
    readDbLogin(secrets, props.appSecretArn),
  ]);
  const client = new Client({
    host: props.host,
    port: props.port,
    database: props.databaseName,
    user: master.username,
    password: master.password,
    ssl: { rejectUnauthorized: true },
    connectionTimeoutMillis: 10_000,
    statement_timeout: 30_000,
  });
  await client.connect();
  try {
    const result = await bootstrapDatabase(client, {
      databaseName: props.databaseName,
      schema: props.schema,
      ownerRole: props.ownerRole,
      appUsername: props.appUsername,
      current: app,
    });
    log({ event: 'db-bootstrap.done', requestType: event.RequestType, physicalId, ...result });
    return { PhysicalResourceId: physicalId, Data: { CreatedRoles: result.createdRoles.join(',') } };
  } finally {
    await client.end();
  }
}

function log(fields: Record<string, unknown>): void {
  console.log(JSON.stringify(fields));
}
