/**
 * Node TLS error codes that mean "this can never work as configured" (wrong CA, wrong host name,
 * expired certificate), as opposed to "the peer is down". Both the database and the cache report
 * them as `misconfigured`, so readiness stays not_ready with a loud log instead of retrying quietly.
 */
const TLS_CONFIG_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
]);

export function isTlsConfigErrorCode(code: unknown): boolean {
  return typeof code === 'string' && TLS_CONFIG_CODES.has(code);
}
