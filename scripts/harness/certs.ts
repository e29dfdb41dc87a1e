/**
 * A throwaway CA and a server certificate, generated with openssl at run time for Redis TLS and
 * Postgres SSL. Nothing is committed; the files live in a temp dir removed at exit.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, runOrThrow } from './process';

export interface TestCertificates {
  readonly dir: string;
  /** PEM of the CA: what NODE_EXTRA_CA_CERTS points to. */
  readonly caCertPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly caPem: string;
}

export interface CertOptions {
  /** Subject alternative names. @default ['DNS:localhost', 'IP:127.0.0.1'] */
  readonly altNames?: readonly string[];
}

export function createTestCertificates(options: CertOptions = {}): TestCertificates {
  const dir = makeTempDir('certs');
  const f = (name: string) => path.join(dir, name);
  const altNames = options.altNames ?? ['DNS:localhost', 'IP:127.0.0.1'];
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  runOrThrow('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=chat-platform test CA (throwaway)',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  runOrThrow('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  const ext = [
    `subjectAltName=${altNames.join(',')}`,
    'basicConstraints=CA:FALSE',
    'keyUsage=digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
  ].join('\n');
  writeFileSync(f('server.ext'), `${ext}\n`);
  runOrThrow('openssl', [
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '2',
    '-extfile',
    f('server.ext'),
  ]);
  return {
    dir,
    caCertPath: f('ca.crt'),
    certPath: f('server.crt'),
    keyPath: f('server.key'),
    caPem: readFileSync(f('ca.crt'), 'utf8'),
  };
}
