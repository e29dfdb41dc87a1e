/**
 * `npm run local`: Postgres (SSL), Redis (TLS + AUTH, a CA generated on the fly), the fake LLM, a
 * local token issuer (keys generated at start, JWKS over HTTPS) and the service built from source,
 * all on 127.0.0.1. Prints the URL, the env it used and the credentials (every secret masked), and
 * writes one user token and the gate's client credentials to `.local/` (mode 0600, gitignored), so
 * the printed `curl` and `npm run gate` lines work as they are. Ctrl-C stops everything.
 *
 *   npm run local                       # service on :8080 (or a free port if 8080 is taken)
 *   npm run local -- --port 0           # any free port
 *   npm run local -- --llm-latency-ms 800 --secrets-manager
 *
 * Then, in another shell: `npm run gate -- --target <URL>`.
 * Programmatic use: `import { runLocal } from './local'` (or `startLocalStack` from ./harness).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { GATE_ENV, ROUTES } from '../lib/contract';
import {
  ensureServiceBuilt,
  LOCAL_API_SCOPE,
  type LocalIssuer,
  type LocalStack,
  mask,
  startLocalStack,
} from './harness';

/** Where the throwaway credentials of a local run are written (gitignored). */
export const LOCAL_DIR = path.join(__dirname, '..', '.local');
export const USER_TOKEN_FILE = path.join(LOCAL_DIR, 'user-token');
export const GATE_ENV_FILE = path.join(LOCAL_DIR, 'gate.env');

/** Writes the user token and the gate's credentials for the printed command lines; removed on stop. */
export function writeLocalCredentials(issuer: LocalIssuer, userToken: string): void {
  mkdirSync(LOCAL_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(USER_TOKEN_FILE, userToken, { mode: 0o600 });
  const gateEnv = [
    `${GATE_ENV.tokenUrl}=${issuer.tokenUrl}`,
    `${GATE_ENV.clientId}=${issuer.gateClient.clientId}`,
    `${GATE_ENV.clientSecret}=${issuer.gateClient.clientSecret}`,
    `${GATE_ENV.tokenScope}=${LOCAL_API_SCOPE}`,
  ];
  writeFileSync(GATE_ENV_FILE, `${gateEnv.join('\n')}\n`, { mode: 0o600 });
}

export function removeLocalCredentials(): void {
  rmSync(USER_TOKEN_FILE, { force: true });
  rmSync(GATE_ENV_FILE, { force: true });
}

export interface LocalOptions {
  readonly port: number;
  readonly llmLatencyMs: number;
  readonly secretsManager: boolean;
}

function parseArgs(argv: readonly string[]): LocalOptions {
  const options = { port: 8080, llmLatencyMs: 300, secretsManager: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--secrets-manager') options.secretsManager = true;
    else if (flag === '--port') options.port = Number(argv[++i]);
    else if (flag === '--llm-latency-ms') options.llmLatencyMs = Number(argv[++i]);
    else throw new Error(`unknown flag ${flag} (known: --port N, --llm-latency-ms N, --secrets-manager)`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
    throw new Error('--port must be 0..65535');
  return options;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function runLocal(options: LocalOptions): Promise<LocalStack> {
  const port = options.port !== 0 && !(await portIsFree(options.port)) ? 0 : options.port;
  const bundle = await ensureServiceBuilt({ shared: true });
  return startLocalStack({
    bundle,
    port,
    appVersion: 'local',
    llm: { latencyMs: options.llmLatencyMs, jitterMs: Math.round(options.llmLatencyMs / 5) },
    secretsManager: options.secretsManager,
    // As in AWS, where the VPC's own addresses (the k6 runner's) skip the per-address flood guard:
    // here every caller is on loopback, so a relative gate against two local stacks is not
    // answered 429 by it. Tokens and the per-principal quotas still apply.
    serviceEnv: { RATE_LIMIT_EXEMPT_CIDRS: '127.0.0.0/8' },
  });
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  console.log('starting Postgres, Redis (TLS + AUTH), the fake LLM, the token issuer and the service...');
  const stack = await runLocal(options);
  const url = stack.url as string;
  console.log('\nenv used by the service (secrets masked):');
  for (const [k, v] of Object.entries(stack.maskedEnv()).sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`  ${k}=${v}`);
  }
  const issuer = stack.issuer as LocalIssuer;
  const userToken = issuer.mint({ sub: 'local-user', expiresInSeconds: 12 * 3600 });
  writeLocalCredentials(issuer, userToken);
  const tokenFile = path.relative(process.cwd(), USER_TOKEN_FILE);
  const gateFile = path.relative(process.cwd(), GATE_ENV_FILE);
  console.log(`\ntoken issuer: ${issuer.issuer} (JWKS ${issuer.jwksUrl}, token endpoint ${issuer.tokenUrl})`);
  console.log(`  user token (sub local-user, 12 h): ${mask(userToken)} in ${tokenFile}`);
  console.log(`  gate client: ${GATE_ENV.clientId}=${issuer.gateClient.clientId}`);
  console.log(`               ${GATE_ENV.clientSecret}=${mask(issuer.gateClient.clientSecret)} in ${gateFile}`);
  console.log(`\nchat service ready: ${url}`);
  console.log(`  curl -s ${url}${ROUTES.ready}`);
  console.log(
    `  curl -s -H "authorization: Bearer $(cat ${tokenFile})" -H 'content-type: application/json' -d '{"message":"hello"}' ${url}${ROUTES.chat}`,
  );
  console.log(`  fake LLM control: curl -s ${stack.llm.url}/__fake/state`);
  console.log(`  (set -a; . ${gateFile}; set +a; npm run gate -- --target ${url})`);
  console.log('\nCtrl-C stops everything.');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the service (drain), Redis, Postgres, the fake LLM and the token issuer...`);
    await stack.stop();
    removeLocalCredentials();
    console.log('stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  void stack.service?.exited.then(({ code, signal }) => {
    if (stopping) return;
    console.error(
      `the service exited unexpectedly (code ${code}, signal ${signal}):\n${stack.service?.output().slice(-4000)}`,
    );
    void stop('service exit');
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
