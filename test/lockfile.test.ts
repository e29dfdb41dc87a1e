import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { missingOptionalEntries, platformOf } from '../scripts/lockfile-platforms';

describe('package-lock.json', () => {
  test('lists every optional platform package, so `npm ci` accepts it on any platform and npm version', () => {
    const lock = JSON.parse(readFileSync(path.join(__dirname, '..', 'package-lock.json'), 'utf8'));
    // If this fails after an `npm install`, run `npm run lock:platforms`.
    expect(missingOptionalEntries(lock).map((m) => m.name)).toEqual([]);
  });

  test('platform entries carry the os, cpu and libc npm uses to skip them elsewhere', () => {
    expect(platformOf('@swc/core-linux-x64-musl')).toEqual({ os: 'linux', cpu: 'x64', libc: 'musl' });
    expect(platformOf('@biomejs/cli-darwin-arm64')).toEqual({ os: 'darwin', cpu: 'arm64' });
    expect(platformOf('@unrs/resolver-binding-linux-arm-musleabihf')).toEqual({
      os: 'linux',
      cpu: 'arm',
      libc: 'musl',
    });
    expect(platformOf('@swc/core-win32-ia32-msvc')).toEqual({ os: 'win32', cpu: 'ia32' });
    expect(platformOf('left-pad')).toBeUndefined();
  });
});
