/**
 * What a deployed version string (`APP_VERSION`, `-c appVersion=…`) may be. The service sends it
 * in every response as the `x-app-version` header and the gate compares it with EXPECTED_VERSION,
 * so it must be a valid header value: visible ASCII, no spaces. The service refuses anything else
 * at start (exit 78), so the CDK app refuses it at synth, before a deploy begins.
 */
export const APP_VERSION_PATTERN = /^[\x21-\x7e]{1,128}$/;
/** {@link APP_VERSION_PATTERN} in words, for the errors that reject a version. */
export const APP_VERSION_RULE = '1-128 visible ASCII characters, no spaces (it is sent as the x-app-version header)';

export function isAppVersion(value: string): boolean {
  return APP_VERSION_PATTERN.test(value);
}
