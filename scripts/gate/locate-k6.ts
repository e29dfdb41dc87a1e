/** Finds the k6 binary: `K6_BIN` when set (and then nothing else), otherwise the first `k6` on PATH. */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

export type K6Location =
  | { readonly found: true; readonly path: string; readonly source: 'K6_BIN' | 'PATH' }
  | { readonly found: false; readonly message: string };

/** The version the suites are tested with; the runner image pins the same one. */
export const TESTED_K6_VERSION = '1.8.1';

export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function locateK6(env: Readonly<Record<string, string | undefined>>): K6Location {
  const explicit = env.K6_BIN?.trim();
  if (explicit) {
    // An explicit K6_BIN that is wrong is an error, not a hint: falling back to PATH could run a
    // different k6 than the one the pipeline pinned.
    return isExecutableFile(explicit)
      ? { found: true, path: path.resolve(explicit), source: 'K6_BIN' }
      : { found: false, message: `k6 not found: K6_BIN=${explicit} is not an executable file` };
  }
  const names = process.platform === 'win32' ? ['k6.exe', 'k6'] : ['k6'];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (isExecutableFile(candidate)) return { found: true, path: candidate, source: 'PATH' };
    }
  }
  return {
    found: false,
    message: `k6 not found: set K6_BIN to the k6 binary or put k6 on PATH (https://grafana.com/docs/k6/latest/set-up/install-k6/); the suites are tested with k6 v${TESTED_K6_VERSION}`,
  };
}
